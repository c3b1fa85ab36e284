"""The router's logic over its two tables: evidence in, canary decisions and weight vectors out.

``RouterEngine`` works on any ``MutableMapping`` (Faust tables in the worker, dicts in tests)
and returns ``Effects``; it never talks to Kafka or the registry itself. Each route is
evaluated at most every ``interval_ms`` (and at once on structural changes): instances
without evidence for ``instance_ttl_ms`` leave, canaries are decided, and the vector is
recomputed and published when it changed by ``min_change`` or its structure changed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, MutableMapping
from datetime import UTC, datetime
from typing import Any

from streams.router.canary import Counts, decide
from streams.router.control import apply_command
from streams.router.policy import RouterPolicy
from streams.router.state import Entry, InstanceEvidence, InstanceState, RouteState, evidence_key, replayed
from streams.router.transitions import (
    CommandOutcome,
    Effects,
    end_canary,
    reject_candidate,
    start_queued,
)
from streams.router.versions import on_version_event
from streams.router.weights import Beta, allocate, probability_best


class RouterEngine:
    """Applies router inputs to the ``routes`` and ``evidence`` tables (see ``streams.router.state``)."""

    def __init__(
        self, routes: MutableMapping[str, Any], evidence: MutableMapping[str, Any], policy: RouterPolicy
    ) -> None:
        self.routes = routes
        self.evidence = evidence
        self.policy = policy

    # -- inputs ----------------------------------------------------------------------------

    def on_joined(self, route: str, partition: int, event: Mapping[str, Any], now_ms: int, offset: int = -1) -> Effects:
        """One labelled prediction: ``instance_id``, ``model_version``, ``correct``, ``features``, ``attributes``
        (and ``src``, its joined-events position). ``offset``: the envelope's router-input offset."""
        name, version = event["instance_id"], event["model_version"]
        evidence = self._evidence(route, name)
        if 0 <= offset <= evidence.offset or replayed(evidence.sources, _source(event)):
            return Effects()  # counted already: the envelope or its input came again after a restart
        evidence.offset = max(offset, evidence.offset)
        state, new = self._state(route, partition)
        changed = self._admit(state, name, version, now_ms) or new
        evidence.version(version).observe(bool(event["correct"]), now_ms, self.policy.half_life_ms)
        evidence.last_seen_ms = now_ms
        canary = state.instances[name].canary
        if canary is not None:
            evidence.canary.observe(
                canary, version, bool(event["correct"]), event.get("features", {}), event.get("attributes", {})
            )
        self.evidence[evidence_key(route, name)] = evidence.to_dict()
        return self._maybe_evaluate(state, now_ms, changed)

    def on_snapshot(self, route: str, partition: int, snapshot: Mapping[str, Any], now_ms: int) -> Effects:
        """A cumulative (``version`` window) snapshot: ``labelled`` and ``accuracy`` of one version.
        Only a newer snapshot counts, so replays change nothing."""
        state, new = self._state(route, partition)
        name, version = snapshot["instance_id"], snapshot["model_version"]
        changed = self._admit(state, name, version, now_ms) or new
        evidence = self._evidence(route, name)
        seen = evidence.version(version)
        if snapshot["snapshot_ms"] > seen.snapshot_ms:
            labelled = int(snapshot["labelled"])
            correct = min(labelled, max(0, round(labelled * snapshot["accuracy"])))
            if labelled > seen.snapshot.n:  # new evidence keeps the instance alive; a repeated total does not
                evidence.last_seen_ms = now_ms
            seen.snapshot, seen.snapshot_ms = Counts(correct, labelled - correct), snapshot["snapshot_ms"]
            self.evidence[evidence_key(route, name)] = evidence.to_dict()
        return self._maybe_evaluate(state, now_ms, changed)

    def on_version(
        self, route: str, partition: int, event: Mapping[str, Any], now_ms: int, offset: int = -1
    ) -> Effects:
        """A ``model.versions`` event (candidate, promoted, rejected, rolled_back) from outside the router."""
        state, _ = self._state(route, partition)
        if 0 <= offset <= state.offset or replayed(state.sources, _source(event)):
            return Effects()
        state.offset = max(offset, state.offset)
        name = event["instance_id"]
        if name not in state.instances:
            state.instances[name] = InstanceState(added_ms=now_ms)
        evidence = self._evidence(route, name)
        effects = Effects()
        on_version_event(state, name, evidence, event, now_ms=now_ms, policy=self.policy.canary, effects=effects)
        self.evidence[evidence_key(route, name)] = evidence.to_dict()
        return self.evaluate(state, now_ms, effects)

    def on_command(
        self, route: str, command: Mapping[str, Any], now_ms: int, *, offset: int = -1, until_ms: int | None = None
    ) -> Effects:
        """An authenticated command for this route; ``Effects.result`` says accepted or rejected.

        Its outcome is kept (by command id, until ``until_ms``): the same command again — a
        replay after a restart — gets the same result and is not applied twice.
        """
        effects = Effects()
        raw = self.routes.get(route)
        if raw is None:
            detail = f"route {route!r} has no routing state (no evidence yet)"
            effects.result = CommandOutcome(False, "unknown_route", detail)
            return effects
        state = RouteState.from_dict(raw)
        state.commands = {k: v for k, v in state.commands.items() if v["until"] >= now_ms}
        done = state.commands.get(command["command_id"])
        if done is not None:
            effects.result = CommandOutcome(done["accepted"], done["reason"], done["detail"])
            return effects
        state.offset = max(offset, state.offset)
        evidences = {name: self._evidence(route, name) for name in state.instances}
        apply_command(state, evidences, command, now_ms=now_ms, effects=effects)
        outcome = effects.result
        assert outcome is not None, "every command has an outcome"
        state.commands[command["command_id"]] = {
            "accepted": outcome.accepted,
            "reason": outcome.reason,
            "detail": outcome.detail,
            "until": until_ms if until_ms is not None else now_ms + 3_600_000,
        }
        for name, evidence in evidences.items():
            self.evidence[evidence_key(route, name)] = evidence.to_dict()
        if not outcome.accepted:
            self.routes[route] = state.to_dict()
            return effects
        return self.evaluate(state, now_ms, effects)

    def on_tick(self, partition: int, now_ms: int) -> Effects:
        """Evaluate every route of ``partition`` whose interval has passed (the input may be idle)."""
        effects = Effects()
        for raw in list(self.routes.values()):
            if (
                raw is None
                or raw.get("p") != partition
                or now_ms - raw.get("last_eval_ms", 0) < self.policy.interval_ms
            ):
                continue
            effects.extend(self.evaluate(RouteState.from_dict(raw), now_ms))
        return effects

    # -- evaluation ------------------------------------------------------------------------

    def evaluate(self, state: RouteState, now_ms: int, effects: Effects | None = None) -> Effects:
        """Expire, decide canaries, recompute the vector; publish it if it changed (or must)."""
        effects = effects or Effects()
        state.commands = {k: v for k, v in state.commands.items() if v["until"] >= now_ms}
        evidences = {name: self._evidence(state.route, name) for name in state.instances}
        self._expire(state, evidences, now_ms, effects)
        if not state.instances:
            self.routes.pop(state.route, None)
            effects.weights.append((state.route, None))
            return effects
        for name, inst in state.instances.items():
            self._decide(state, name, inst, evidences[name], now_ms, effects)
        entries = self.vector(state, evidences, now_ms)
        if effects.force or _moved(state.published, entries, self.policy.min_change):
            state.epoch = max(state.epoch + 1, now_ms)
            state.published = entries
            reason = "; ".join(effects.notes) or "evidence"
            effects.weights.append((state.route, weights_record(state, reason, now_ms)))
        effects.notes, effects.force = [], False
        state.last_eval_ms = now_ms
        self.routes[state.route] = state.to_dict()
        for name, evidence in evidences.items():
            self.evidence[evidence_key(state.route, name)] = evidence.to_dict()
        return effects

    def vector(self, state: RouteState, evidences: Mapping[str, InstanceEvidence], now_ms: int) -> list[Entry]:
        """The weight vector: instance shares (probability best, floored and capped), canaries split off.

        On a frozen route the instance shares stay those last published (instances that
        appeared since wait for the unfreeze); versions still change by command or rollback.
        """
        live = [(name, inst) for name, inst in sorted(state.instances.items()) if inst.serving is not None]
        if state.frozen and state.published is not None:
            before: dict[str, float] = defaultdict(float)
            for entry in state.published:
                before[entry.instance_id] += entry.weight
            live = [(name, inst) for name, inst in live if name in before]
            total = sum(before[name] for name, _ in live)
            shares = [before[name] / total if total else 1 / len(live) for name, _ in live]
        else:
            posteriors = [self._posterior(evidences[name], inst.serving or 0, now_ms) for name, inst in live]
            shares = allocate(
                probability_best(posteriors, temperature=self.policy.temperature, draws=self.policy.draws),
                floor=self.policy.floor,
                cap=self.policy.cap,
            )
        entries = []
        for (name, inst), share in zip(live, shares, strict=True):
            if inst.canary is not None and inst.pinned is None and inst.stable is not None:
                part = round(share * inst.canary.share(self.policy.canary), 12)
                entries.append(Entry(name, inst.stable, round(share - part, 12), "stable"))
                entries.append(Entry(name, inst.canary.version, part, "canary"))
            else:
                entries.append(Entry(name, inst.serving or 0, share, "stable"))
        return entries

    # -- helpers ---------------------------------------------------------------------------

    def _posterior(self, evidence: InstanceEvidence, version: int, now_ms: int) -> Beta:
        """The accuracy posterior the weights use: recency-weighted with a half-life, else cumulative."""
        seen = evidence.versions.get(version)
        if seen is None:
            return Counts().posterior
        if self.policy.half_life_ms > 0:
            correct, wrong = seen.decayed(now_ms, self.policy.half_life_ms)
            if correct + wrong >= 1.0:
                return Beta.of(correct, wrong)
        return seen.overall.posterior

    def _state(self, route: str, partition: int) -> tuple[RouteState, bool]:
        raw = self.routes.get(route)
        if raw is None:
            return RouteState(route, partition=partition), True
        state = RouteState.from_dict(raw)
        state.partition = partition
        return state, False

    def _evidence(self, route: str, name: str) -> InstanceEvidence:
        return InstanceEvidence.from_dict(self.evidence.get(evidence_key(route, name)))

    def _admit(self, state: RouteState, name: str, version: int, now_ms: int) -> bool:
        """Make sure the instance exists and has a stable version; True if the structure changed."""
        inst = state.instances.get(name)
        changed = inst is None
        if inst is None:
            inst = state.instances[name] = InstanceState(added_ms=now_ms)
        if inst.stable is None and inst.canary is None and version not in inst.retired:
            inst.stable = version
            changed = True
        return changed

    def _maybe_evaluate(self, state: RouteState, now_ms: int, changed: bool) -> Effects:
        if changed or now_ms - state.last_eval_ms >= self.policy.interval_ms:
            effects = Effects()
            if changed:
                effects.force = True
            return self.evaluate(state, now_ms, effects)
        return Effects()

    def _expire(self, state: RouteState, evidences: dict[str, InstanceEvidence], now_ms: int, effects: Effects) -> None:
        for name, inst in list(state.instances.items()):
            seen = max(evidences[name].last_seen_ms, inst.added_ms)
            if now_ms - seen <= self.policy.instance_ttl_ms:
                continue
            if inst.canary is not None:
                end_canary(
                    state,
                    name,
                    inst,
                    evidences[name],
                    status="rejected",
                    reason="instance expired",
                    now_ms=now_ms,
                    effects=effects,
                )
            if inst.queued is not None:
                reject_candidate(state.route, name, inst, inst.queued, "instance expired", now_ms, effects)
            del state.instances[name]
            del evidences[name]
            self.evidence.pop(evidence_key(state.route, name), None)
            effects.note(f"{name} left: no evidence for {(now_ms - seen) / 1000:.0f} s")

    def _decide(
        self,
        state: RouteState,
        name: str,
        inst: InstanceState,
        evidence: InstanceEvidence,
        now_ms: int,
        effects: Effects,
    ) -> None:
        if inst.canary is not None:
            allow = not state.frozen and inst.pinned is None
            verdict = decide(inst.canary, evidence.canary, self.policy.canary, allow_changes=allow)
            if verdict.action == "ramp":
                inst.canary.step += 1
                inst.canary.step_n = evidence.canary.candidate.n
                effects.note(f"{name} {verdict.reason}")
            elif verdict.action in ("promote", "rollback", "reject"):
                status = {"promote": "promoted", "rollback": "rolled_back", "reject": "rejected"}[verdict.action]
                end_canary(
                    state,
                    name,
                    inst,
                    evidence,
                    status=status,
                    reason=verdict.reason,
                    now_ms=now_ms,
                    effects=effects,
                    metrics=verdict.metrics,
                )
        start_queued(state, name, inst, evidence, now_ms=now_ms, policy=self.policy.canary, effects=effects)


def weights_record(state: RouteState, reason: str, now_ms: int) -> dict[str, Any]:
    """The ``routing.weights`` record of the state's published vector."""
    return {
        "route": state.route,
        "epoch": state.epoch,
        "ts": datetime.fromtimestamp(now_ms / 1000, UTC),
        "reason": reason[:2000],
        "weights": [e.to_record() for e in state.published or []],
        "frozen": state.frozen,
    }


def _moved(before: list[Entry] | None, after: list[Entry], min_change: float) -> bool:
    if before is None:
        return True
    old = {(e.instance_id, e.version, e.role): e.weight for e in before}
    new = {(e.instance_id, e.version, e.role): e.weight for e in after}
    if old.keys() != new.keys():
        return True
    return any(abs(old[k] - new[k]) >= min_change for k in new)


def _source(event: Mapping[str, Any]) -> tuple[str, int] | None:
    src = event.get("src")
    return None if not src else (str(src[0]), int(src[1]))
