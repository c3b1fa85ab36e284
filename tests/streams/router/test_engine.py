"""The router engine without a broker: weights from evidence, canaries, version events, expiry."""

from __future__ import annotations

import pytest

from streams.router import CanaryPolicy
from tests.streams.router.sim import Sim

YOUNG = {"description": "age < 30", "predicate": [{"feature": "age", "low": None, "high": 30.0, "value": None}]}


def test_weights_move_toward_the_better_instance_while_others_keep_the_floor():
    sim = Sim(floor=0.05, cap=0.8)
    sim.traffic({"a": 0.92, "b": 0.7, "c": 0.7, "d": 0.68}, 1200)
    weights = sim.weights()
    assert weights[("a", 1, "stable")] == pytest.approx(0.8)
    assert all(weights[(x, 1, "stable")] >= 0.05 - 1e-9 for x in "bcd")
    assert sum(weights.values()) == pytest.approx(1.0)
    epochs = [p["epoch"] for p in sim.published if p]
    assert epochs == sorted(set(epochs)), "epochs strictly increase"
    assert len(sim.published) < 60, "only material changes are published"


def test_equal_instances_share_and_a_lone_one_takes_all():
    sim = Sim()
    sim.traffic({"a": 0.8}, 50)
    assert sim.weights() == {("a", 1, "stable"): 1.0}
    sim.traffic({"a": 0.8, "b": 0.8}, 40)
    assert set(sim.weights()) == {("a", 1, "stable"), ("b", 1, "stable")}


def run_canary(
    sim: Sim, candidate: float, *, slice_accuracy: float | None = None, baseline_slice: float = 0.8, n: int = 6000
) -> None:
    """Instance a serves v1 (80 %, ``baseline_slice`` under 30) and candidate v2; b serves v1 at 75 %."""
    sim.traffic({"a": 0.8, "b": 0.75}, 300)
    sim.candidate("a", 2, parent=1, slices=[YOUNG] if slice_accuracy is not None else [])
    for _ in range(n):
        weights = sim.weights()
        if ("a", 2, "canary") not in weights:
            return
        share = weights[("a", 2, "canary")] / (weights[("a", 2, "canary")] + weights[("a", 1, "stable")])
        if sim.rng.random() < 0.5:
            sim.joined("b", 1, 0.75)
            continue
        version = 2 if sim.rng.random() < share else 1
        age = sim.rng.uniform(18, 80)
        young = age < 30
        if version == 1:
            accuracy = baseline_slice if young else 0.8
        else:
            accuracy = slice_accuracy if young and slice_accuracy is not None else candidate
        sim.joined("a", version, accuracy, age=age)


def test_a_worse_candidate_is_rolled_back_and_the_weights_restored():
    sim = Sim()
    run_canary(sim, 0.55)
    assert [(v["version"], v["status"]) for v in sim.versions] == [(2, "rolled_back")]
    assert "worse than v1" in sim.versions[0]["reason"] and sim.versions[0]["metrics"]["p_worse"] >= 0.95
    assert [(s.instance_id, s.version, s.status) for s in sim.statuses] == [("a", 2, "rolled_back")]
    assert set(sim.weights()) == {("a", 1, "stable"), ("b", 1, "stable")}
    assert sim.state("a")["stable"] == 1 and sim.state("a")["retired"] == [2]


def test_a_better_candidate_ramps_and_is_promoted():
    sim = Sim(canary=CanaryPolicy(draws=4000, step_samples=20))
    run_canary(sim, 0.95, slice_accuracy=0.97)
    assert [(v["version"], v["status"]) for v in sim.versions] == [(2, "promoted")]
    assert sim.versions[0]["target_slices"] == [YOUNG]
    shares = [w["weight"] for p in sim.published if p for w in p["weights"] if w["role"] == "canary"]
    assert len(set(shares)) > 1, "the canary's share ramped"
    assert ("a", 2, "stable") in sim.weights() and sim.state("a")["history"] == [1]
    reasons = [p["reason"] for p in sim.published if p]
    assert any("canary a v2 started" in r for r in reasons) and any("v2 promoted" in r for r in reasons)


def test_a_candidate_that_regresses_on_its_slice_is_rolled_back():
    sim = Sim()
    run_canary(sim, 0.97, slice_accuracy=0.4, baseline_slice=0.95)
    assert [(v["version"], v["status"]) for v in sim.versions] == [(2, "rolled_back")]
    assert "regressed on its slice 'age < 30'" in sim.versions[0]["reason"]


def test_candidates_queue_behind_a_running_canary_and_newer_ones_supersede():
    sim = Sim()
    sim.traffic({"a": 0.8}, 50)
    sim.candidate("a", 2, parent=1)
    sim.candidate("a", 3, parent=1)
    sim.candidate("a", 4, parent=1)
    sim.candidate("a", 4, parent=1)  # duplicate
    assert sim.state("a")["canary"]["version"] == 2 and sim.state("a")["queued"]["version"] == 4
    assert [(v["version"], v["status"]) for v in sim.versions] == [(3, "rejected")]
    sim.command("rollback", "instance", "a")
    assert sim.state("a")["canary"]["version"] == 4 and sim.state("a")["queued"] is None


def test_a_queued_candidate_made_from_a_superseded_version_is_rejected_as_stale():
    sim = Sim(canary=CanaryPolicy(draws=4000, step_samples=20))
    sim.traffic({"a": 0.8, "b": 0.75}, 300)
    sim.candidate("a", 2, parent=1)
    sim.candidate("a", 3, parent=1)  # made from v1 while v2 is on trial
    assert sim.state("a")["queued"]["version"] == 3
    sim.version_event("a", 2, "promoted")
    assert sim.state("a")["stable"] == 2 and sim.state("a")["canary"] is None
    assert [(v["version"], v["status"]) for v in sim.versions] == [(3, "rejected")]
    assert "stale: made from v1, but v2 is stable now" in sim.versions[0]["reason"]
    sim.candidate("a", 4, parent=2)
    assert sim.state("a")["canary"]["version"] == 4
    sim.candidate("b", 2, parent=7)  # b's stable is v1: a candidate of another lineage never starts
    assert sim.versions[-1]["version"] == 2 and sim.versions[-1]["status"] == "rejected"


def test_a_candidate_without_any_baseline_is_rejected_and_one_with_a_parent_starts():
    sim = Sim()
    sim.candidate("new", 1, parent=None)
    assert [(v["version"], v["status"]) for v in sim.versions] == [(1, "rejected")]
    sim.candidate("fresh", 5, parent=4)
    assert sim.state("fresh")["stable"] == 4 and sim.state("fresh")["canary"]["version"] == 5


def test_frozen_routes_keep_their_weights_and_queue_candidates():
    sim = Sim()
    sim.traffic({"a": 0.8, "b": 0.8}, 100)
    before = sim.weights()
    sim.command("freeze", "route", "credit")
    assert sim.latest()["frozen"] is True
    sim.traffic({"a": 0.99, "b": 0.3}, 600)
    assert sim.weights() == before
    sim.candidate("a", 2, parent=1)
    assert sim.state("a")["canary"] is None and sim.state("a")["queued"]["version"] == 2
    sim.command("unfreeze", "route", "credit")
    assert sim.latest()["frozen"] is False and sim.state("a")["canary"]["version"] == 2
    assert sim.weights()[("b", 1, "stable")] < before[("b", 1, "stable")]


def test_outside_decisions_are_followed_and_echoes_change_nothing():
    sim = Sim()
    sim.traffic({"a": 0.8}, 50)
    sim.candidate("a", 2, parent=1)
    sim.version_event("a", 2, "promoted")  # e.g. an operator in the registry
    assert sim.state("a")["stable"] == 2 and sim.state("a")["canary"] is None and not sim.versions
    before = dict(sim.routes)
    sim.version_event("a", 2, "promoted")
    sim.version_event("a", 7, "rolled_back")
    assert sim.routes["credit"]["instances"] == {**before["credit"]["instances"], "a": {**sim.state("a")}}
    sim.version_event("a", 2, "rolled_back")
    assert sim.state("a")["stable"] == 1 and 2 in sim.state("a")["retired"]


def test_silent_instances_leave_and_an_empty_route_is_a_tombstone():
    sim = Sim(instance_ttl_ms=60_000)
    sim.traffic({"a": 0.8, "b": 0.8}, 20)
    sim.now += 30_000
    sim.traffic({"a": 0.8}, 5)
    sim.now += 40_000
    sim.take(sim.engine.on_tick(0, sim.now))
    assert set(sim.weights()) == {("a", 1, "stable")} and "b left" in sim.latest()["reason"]
    sim.now += 120_000
    sim.take(sim.engine.on_tick(0, sim.now))
    assert sim.published[-1] is None and "credit" not in sim.routes and not sim.evidence


def test_snapshots_count_when_they_have_seen_more_and_repeats_do_not_keep_alive():
    sim = Sim(instance_ttl_ms=60_000)
    sim.traffic({"a": 0.8, "b": 0.8}, 20)
    snapshot = {"instance_id": "b", "model_version": 1, "labelled": 5000, "accuracy": 0.95, "snapshot_ms": 1}
    sim.take(sim.engine.on_snapshot("credit", 0, snapshot, sim.now))
    sim.now += 2000
    sim.joined("a", 1, 0.8)
    assert sim.weights()[("b", 1, "stable")] == pytest.approx(0.8)
    sim.now += 59_000
    sim.take(sim.engine.on_snapshot("credit", 0, {**snapshot, "snapshot_ms": 2}, sim.now))
    sim.now += 5_000
    sim.joined("a", 1, 0.8)
    assert ("b", 1, "stable") not in sim.weights()


def test_ticks_evaluate_only_their_partition_after_the_interval():
    sim = Sim()
    sim.traffic({"a": 0.8}, 5)
    sim.routes["credit"] = {**sim.routes["credit"], "p": 1}
    evaluated = sim.routes["credit"]["last_eval_ms"]
    sim.engine.on_tick(0, sim.now + 10_000)
    sim.engine.on_tick(1, evaluated + 10)  # within the interval
    assert sim.routes["credit"]["last_eval_ms"] == evaluated
    sim.engine.on_tick(1, sim.now + 10_000)
    assert sim.routes["credit"]["last_eval_ms"] == sim.now + 10_000


def test_replayed_envelopes_and_re_forwarded_inputs_are_counted_once():
    sim = Sim()
    event = {"instance_id": "a", "model_version": 1, "correct": True, "features": {}, "attributes": {}}
    engine, now = sim.engine, sim.now
    engine.on_joined("credit", 0, {**event, "src": ["j1", 10]}, now, offset=100)
    engine.on_joined("credit", 0, {**event, "src": ["j1", 10]}, now, offset=100)  # the same envelope again
    engine.on_joined("credit", 0, {**event, "src": ["j1", 10]}, now, offset=105)  # forwarded again by a feeder
    engine.on_joined("credit", 0, {**event, "src": ["j0", 10]}, now, offset=106)  # another source partition
    engine.on_joined("credit", 0, {**event, "src": ["j1", 11]}, now, offset=107)
    assert sim.evidence["credit\x1fa"]["versions"]["1"]["j"] == [3, 0]


def test_a_replayed_version_event_does_not_undo_later_decisions():
    sim = Sim()
    sim.traffic({"a": 0.8}, 20)
    promoted = {"status": "promoted", "instance_id": "a", "version": 2, "parent_version": 1, "src": ["m0", 5]}
    sim.take(sim.engine.on_version("credit", 0, promoted, sim.now, offset=500))
    sim.command("rollback", "instance", "a")
    assert sim.state("a")["stable"] == 1
    sim.take(sim.engine.on_version("credit", 0, promoted, sim.now, offset=500))
    sim.take(sim.engine.on_version("credit", 0, promoted, sim.now, offset=900))  # re-forwarded: same source
    assert sim.state("a")["stable"] == 1 and 2 in sim.state("a")["retired"]


def test_a_replayed_command_gets_its_first_result_and_is_not_applied_twice():
    sim = Sim()
    sim.traffic({"a": 0.8}, 20)
    sim.version_event("a", 2, "promoted")
    sim.version_event("a", 3, "promoted")
    command = {
        "command_id": "once",
        "action": "rollback",
        "targets": [{"kind": "instance", "name": "a", "version": None}],
        "issuer": "alice",
        "reason": "",
    }
    first = sim.take(sim.engine.on_command("credit", command, sim.now, offset=40, until_ms=sim.now + 1000))
    again = sim.take(sim.engine.on_command("credit", command, sim.now + 10, offset=41, until_ms=sim.now + 1000))
    assert first.result == again.result and first.result.accepted and not again.versions and not again.weights
    assert sim.state("a")["stable"] == 2, "rolled back once: v3 -> v2, not on to v1"
    sim.now += 5000  # past until_ms: forgotten (the gate refuses it as stale by then anyway)
    sim.joined("a", 2, 0.8)
    assert "once" not in sim.routes["credit"]["cmd"] or sim.routes["credit"]["cmd"]["once"]["until"] >= sim.now


@pytest.mark.parametrize(("half_life_ms", "leader"), [(0, "b"), (1_000, "a")])
def test_with_a_half_life_the_weights_follow_a_drift(half_life_ms, leader):
    sim = Sim(floor=0.1, cap=0.8, half_life_ms=half_life_ms)
    sim.traffic({"a": 0.9, "b": 0.95}, 3000)  # b leads for 30 s of simulated time
    sim.traffic({"a": 0.9, "b": 0.6}, 150)  # then drifts for 1.5 s
    assert sim.weights()[(leader, 1, "stable")] > 0.75
