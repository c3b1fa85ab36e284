"""``model.versions`` events into route state: candidates start canaries, outside decisions are followed.

The router reads its own events back too; every transition here is idempotent, so an
echo of a promotion or rollback the router made itself changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from streams.router.canary import CanaryCounts, CanaryPolicy
from streams.router.state import Candidate, InstanceEvidence, RouteState
from streams.router.transitions import (
    Effects,
    can_start,
    end_canary,
    reject_candidate,
    start_canary,
)


def on_version_event(
    state: RouteState,
    name: str,
    evidence: InstanceEvidence,
    event: Mapping[str, Any],
    *,
    now_ms: int,
    policy: CanaryPolicy,
    effects: Effects,
) -> None:
    """Apply one ``model.versions`` event of instance ``name`` (present in ``state``)."""
    status, version = event["status"], event["version"]
    if status == "candidate":
        _candidate(state, name, evidence, event, now_ms=now_ms, policy=policy, effects=effects)
    elif status == "promoted":
        _promoted(state, name, evidence, version, now_ms=now_ms, effects=effects)
    elif status in ("rolled_back", "rejected"):
        _withdrawn(state, name, evidence, version, status, now_ms=now_ms, effects=effects)


def _candidate(
    state: RouteState,
    name: str,
    evidence: InstanceEvidence,
    event: Mapping[str, Any],
    *,
    now_ms: int,
    policy: CanaryPolicy,
    effects: Effects,
) -> None:
    inst = state.instances[name]
    version, parent = event["version"], event.get("parent_version")
    if inst.known(version) or (inst.queued is not None and inst.queued.version == version):
        return  # a duplicate, or a version this route already decided about
    candidate = Candidate(version, parent, list(event.get("target_slices") or []))
    if inst.stable is None:
        if parent is None or parent in inst.retired:
            reason = "no stable version to compare it with (no parent, no traffic yet)"
            reject_candidate(state.route, name, inst, candidate, reason, now_ms, effects)
            return
        inst.stable = parent
    if can_start(state, inst):
        start_canary(state, name, inst, evidence, candidate, now_ms=now_ms, policy=policy, effects=effects)
        return
    if inst.queued is not None:
        older = inst.queued
        reject_candidate(state.route, name, inst, older, f"superseded by v{version} while waiting", now_ms, effects)
    inst.queued = candidate
    why = "route frozen" if state.frozen else "instance pinned" if inst.pinned is not None else "a canary is running"
    effects.notes.append(f"{name} v{version} queued ({why})")


def _promoted(
    state: RouteState, name: str, evidence: InstanceEvidence, version: int, *, now_ms: int, effects: Effects
) -> None:
    inst = state.instances[name]
    if inst.stable == version:
        return
    if inst.canary is not None and inst.canary.version == version:
        end_canary(
            state,
            name,
            inst,
            evidence,
            status="promoted",
            reason="promoted outside the router",
            now_ms=now_ms,
            effects=effects,
            emit=False,
        )
        return
    if inst.stable is not None:
        inst.history.append(inst.stable)
    inst.stable = version
    if version in inst.retired:
        inst.retired.remove(version)
    if inst.queued is not None and inst.queued.version == version:
        inst.queued = None
    if inst.canary is not None:
        inst.canary.baseline, inst.canary.step_n = version, 0  # compare against the new stable version afresh
        evidence.canary = CanaryCounts()
    effects.note(f"{name} v{version} promoted outside the router")


def _withdrawn(
    state: RouteState,
    name: str,
    evidence: InstanceEvidence,
    version: int,
    status: str,
    *,
    now_ms: int,
    effects: Effects,
) -> None:
    inst = state.instances[name]
    if inst.canary is not None and inst.canary.version == version:
        end_canary(
            state,
            name,
            inst,
            evidence,
            status=status,
            reason=f"{status.replace('_', ' ')} outside the router",
            now_ms=now_ms,
            effects=effects,
            emit=False,
        )
        return
    if inst.queued is not None and inst.queued.version == version:
        inst.queued = None
    if inst.stable == version and inst.history:
        inst.retire(version)
        inst.stable = inst.history.pop()
        if inst.canary is not None:
            inst.canary.baseline, inst.canary.step_n = inst.stable, 0
            evidence.canary = CanaryCounts()
        effects.note(f"{name} v{version} {status.replace('_', ' ')} outside the router; serving v{inst.stable}")
        return
    inst.retire(version)
