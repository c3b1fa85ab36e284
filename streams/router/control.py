"""Operator commands on a route's state: rollback, pin, unpin, freeze, unfreeze.

The command is already authenticated (signature, freshness, replay) by the time it gets
here; this module decides whether it makes sense for the route and applies it.

- ``rollback INSTANCE``: ends a running canary as rolled back; without one, returns the
  instance to its previous stable version. ``--to V`` returns to the earlier stable version
  V (any canary is rolled back too). Versions left behind are retired.
- ``pin INSTANCE V``: the instance serves V (a version it has served or been offered)
  whatever the evidence says; canaries pause. ``unpin`` lifts that.
- ``freeze ROUTE``: no automatic changes to the route's weights, ramps or promotions;
  automatic rollbacks and commands still apply. ``unfreeze`` lifts that.

Repeating a command's effect (``unpin`` when not pinned, ``freeze`` when frozen) is accepted
and changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from streams.router.state import InstanceEvidence, InstanceState, RouteState
from streams.router.transitions import CommandOutcome, Effects, StatusChange, end_canary, version_event

UNKNOWN_INSTANCE = "unknown_instance"
UNKNOWN_VERSION = "unknown_version"
NOTHING_TO_ROLL_BACK = "nothing_to_roll_back"


def apply_command(
    state: RouteState,
    evidences: dict[str, InstanceEvidence],
    command: Mapping[str, Any],
    *,
    now_ms: int,
    effects: Effects,
) -> None:
    """Apply ``command`` to ``state``; sets ``effects.result`` (and notes the change for the weights)."""
    action, (target,) = command["action"], command["targets"]
    by = f"{action} by {command['issuer']} ({command['command_id']})" + (
        f": {command['reason']}" if command.get("reason") else ""
    )
    if action in ("freeze", "unfreeze"):
        frozen = action == "freeze"
        done = "frozen" if frozen else "unfrozen"
        if state.frozen == frozen:
            effects.result = CommandOutcome(True, "", f"route {state.route} was already {done}; nothing to do")
            return
        state.frozen = frozen
        effects.note(by)
        effects.result = CommandOutcome(True, "", f"route {state.route} {done}")
        return
    name = target["name"]
    inst = state.instances.get(name)
    if inst is None:
        effects.result = CommandOutcome(False, UNKNOWN_INSTANCE, f"instance {name} is not on route {state.route}")
        return
    if action == "rollback":
        _rollback(state, name, inst, evidences[name], target.get("version"), by, now_ms, effects)
    elif action == "pin":
        version = target["version"]
        if not inst.known(version) and version not in evidences[name].versions:
            detail = f"{name} on route {state.route} never served or was offered v{version}"
            effects.result = CommandOutcome(False, UNKNOWN_VERSION, detail)
            return
        inst.pinned = version
        effects.note(by)
        effects.result = CommandOutcome(True, "", f"{name} on route {state.route} pinned to v{version}")
    elif action == "unpin":
        if inst.pinned is None:
            effects.result = CommandOutcome(True, "", f"{name} on route {state.route} was not pinned; nothing to do")
            return
        inst.pinned = None
        effects.note(by)
        effects.result = CommandOutcome(True, "", f"{name} on route {state.route} unpinned; serving v{inst.stable}")


def _rollback(
    state: RouteState,
    name: str,
    inst: InstanceState,
    evidence: InstanceEvidence,
    to: int | None,
    by: str,
    now_ms: int,
    effects: Effects,
) -> None:
    where = f"{name} on route {state.route}"
    pinned = f" (still pinned to v{inst.pinned})" if inst.pinned is not None else ""
    if inst.canary is not None and (to is None or to == inst.stable):
        version = inst.canary.version
        end_canary(state, name, inst, evidence, status="rolled_back", reason=by, now_ms=now_ms, effects=effects)
        effects.result = CommandOutcome(
            True, "", f"{where}: canary v{version} rolled back; serving v{inst.stable}{pinned}"
        )
        return
    if to is None:
        if not inst.history:
            detail = f"{where} has no version before v{inst.stable} to roll back to"
            effects.result = CommandOutcome(False, NOTHING_TO_ROLL_BACK, detail)
            return
        to = inst.history[-1]
    elif to == inst.stable:
        effects.result = CommandOutcome(False, NOTHING_TO_ROLL_BACK, f"{where} already serves v{to}")
        return
    elif to not in inst.history:
        detail = f"v{to} is not an earlier stable version of {where} (earlier: {inst.history or 'none'})"
        effects.result = CommandOutcome(False, UNKNOWN_VERSION, detail)
        return
    if inst.canary is not None:
        end_canary(state, name, inst, evidence, status="rolled_back", reason=by, now_ms=now_ms, effects=effects)
    old = inst.stable
    assert old is not None, f"{where} has history but no stable version"
    withdrawn = [old]
    while inst.history and inst.history[-1] != to:
        withdrawn.append(inst.history.pop())
    inst.history.pop()
    inst.stable = to
    effects.note(by)
    for version in withdrawn:
        inst.retire(version)
        effects.versions.append(
            version_event(state.route, name, version, parent=None, status="rolled_back", reason=by, now_ms=now_ms)
        )
        effects.statuses.append(StatusChange(name, version, "rolled_back", by))
    # The registry already has ``to`` as promoted (superseded); withdrawing the newer ones makes it current again.
    restored = version_event(
        state.route, name, to, parent=None, status="promoted", reason=f"restored by {by}", now_ms=now_ms
    )
    effects.versions.append(restored)
    effects.result = CommandOutcome(True, "", f"{where}: v{old} rolled back; serving v{to}{pinned}")
