"""What the router's decisions produce (``Effects``), and the state transitions they share.

The engine and the command handler change a route's state only through these functions,
so a promotion, a rollback or a rejection always leaves the same trail: the state, a
``model.versions`` event and a registry status change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from schemas.slices import Slice
from streams.router.canary import Canary, CanaryCounts, CanaryPolicy
from streams.router.state import Candidate, InstanceEvidence, InstanceState, RouteState

STATUSES = frozenset({"candidate", "promoted", "rejected", "rolled_back"})
OWN_EVENTS = "router-"
"""Prefix of the ``event_id`` of the router's own ``model.versions`` events."""


@dataclass(frozen=True)
class StatusChange:
    """A registry status change the agent applies: ``set_status(instance_id, version, status, reason)``."""

    instance_id: str
    version: int
    status: str
    reason: str


@dataclass(frozen=True)
class CommandOutcome:
    """The result of a command on one route: accepted or rejected (with a machine-readable reason)."""

    accepted: bool
    reason: str
    detail: str


@dataclass
class Effects:
    """Everything one input leads to; the agent sends and applies it in order.

    ``weights`` holds ``(route, record)`` pairs, ``record`` ``None`` for a tombstone. ``notes``
    and ``force`` are the engine's working state while it evaluates a route.
    """

    weights: list[tuple[str, dict[str, Any] | None]] = field(default_factory=list)
    versions: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[StatusChange] = field(default_factory=list)
    result: CommandOutcome | None = None
    notes: list[str] = field(default_factory=list)
    force: bool = False

    def note(self, text: str) -> None:
        """A structural change: remembered as the reason of the next weights, which are then published."""
        self.notes.append(text)
        self.force = True

    def extend(self, other: Effects) -> Effects:
        self.weights += other.weights
        self.versions += other.versions
        self.statuses += other.statuses
        self.result = other.result or self.result
        return self


def version_event(
    route: str,
    instance_id: str,
    version: int,
    *,
    parent: int | None,
    status: str,
    reason: str,
    now_ms: int,
    metrics: dict[str, float] | None = None,
    slices: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A ``model.versions`` record written by the router."""
    return {
        "event_id": f"{OWN_EVENTS}{route}-{instance_id}-v{version}-{status}-{now_ms}",
        "instance_id": instance_id,
        "route": route,
        "version": version,
        "parent_version": parent,
        "status": status,
        "ts": datetime.fromtimestamp(now_ms / 1000, UTC),
        "reason": reason,
        "metrics": dict(metrics or {}),
        "weights_uri": "",
        "target_slices": list(slices or []),
    }


def can_start(state: RouteState, inst: InstanceState) -> bool:
    """A canary may start: the route is not frozen, the instance not pinned, busy or without a baseline."""
    return not state.frozen and inst.pinned is None and inst.canary is None and inst.stable is not None


def start_canary(
    state: RouteState,
    name: str,
    inst: InstanceState,
    evidence: InstanceEvidence,
    candidate: Candidate,
    *,
    now_ms: int,
    policy: CanaryPolicy,
    effects: Effects,
) -> None:
    """Start ``candidate``'s canary against the stable version, or reject it when it is stale."""
    assert inst.stable is not None, "a canary needs a baseline"
    reason = stale(inst, candidate)
    if reason is not None:
        reject_candidate(state.route, name, inst, candidate, reason, now_ms, effects)
        return
    slices = tuple(Slice.from_record(s) for s in candidate.slices)
    inst.canary = Canary(candidate.version, inst.stable, candidate.parent, started_ms=now_ms, slices=slices)
    evidence.canary = CanaryCounts()
    on = f" targeting {', '.join(repr(s.description) for s in slices)}" if slices else ""
    effects.note(
        f"canary {name} v{candidate.version} started at {policy.steps[0]:.0%} of its instance "
        f"against v{inst.stable}{on}"
    )


def end_canary(
    state: RouteState,
    name: str,
    inst: InstanceState,
    evidence: InstanceEvidence,
    *,
    status: str,
    reason: str,
    now_ms: int,
    effects: Effects,
    metrics: dict[str, float] | None = None,
    emit: bool = True,
) -> None:
    """Finish the running canary as ``promoted``, ``rolled_back`` or ``rejected``.

    ``emit`` is False when the decision came from outside (a ``model.versions`` event):
    then the event and the registry already say so.
    """
    canary = inst.canary
    assert canary is not None, f"{name} on {state.route} has no canary"
    inst.canary = None
    evidence.canary = CanaryCounts()
    if status == "promoted":
        if inst.stable is not None:
            inst.history.append(inst.stable)
        inst.stable = canary.version
    else:
        inst.retire(canary.version)
    effects.note(f"{name} v{canary.version} {status.replace('_', ' ')}: {reason}")
    if emit:
        slices = [s.to_record() for s in canary.slices]
        effects.versions.append(
            version_event(
                state.route,
                name,
                canary.version,
                parent=canary.parent,
                status=status,
                reason=reason,
                now_ms=now_ms,
                metrics=metrics,
                slices=slices,
            )
        )
        effects.statuses.append(StatusChange(name, canary.version, status, reason))


def start_queued(
    state: RouteState,
    name: str,
    inst: InstanceState,
    evidence: InstanceEvidence,
    *,
    now_ms: int,
    policy: CanaryPolicy,
    effects: Effects,
) -> None:
    """Start the queued candidate if the instance is free for it."""
    if inst.queued is not None and can_start(state, inst):
        candidate, inst.queued = inst.queued, None
        start_canary(state, name, inst, evidence, candidate, now_ms=now_ms, policy=policy, effects=effects)


def stale(inst: InstanceState, candidate: Candidate) -> str | None:
    """Why ``candidate`` must not be tried: it was made from a version that is no longer the stable one
    (a newer version was promoted meanwhile, so it would undo that version's fix)."""
    if candidate.parent is None or inst.stable is None or candidate.parent == inst.stable:
        return None
    return f"stale: made from v{candidate.parent}, but v{inst.stable} is stable now"


def reject_candidate(
    route: str, name: str, inst: InstanceState, candidate: Candidate, reason: str, now_ms: int, effects: Effects
) -> None:
    """A candidate that never gets a canary: retired, announced, registry updated."""
    inst.retire(candidate.version)
    effects.versions.append(
        version_event(
            route,
            name,
            candidate.version,
            parent=candidate.parent,
            status="rejected",
            reason=reason,
            now_ms=now_ms,
            slices=candidate.slices,
        )
    )
    effects.statuses.append(StatusChange(name, candidate.version, "rejected", reason))
