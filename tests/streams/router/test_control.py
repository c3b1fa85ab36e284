"""Operator commands applied to route state."""

from __future__ import annotations

from tests.streams.router.sim import Sim


def promoted_twice() -> Sim:
    """Instance a: v1 -> v2 -> v3 promoted (outside the router), b serves v1."""
    sim = Sim()
    sim.traffic({"a": 0.8, "b": 0.8}, 40)
    sim.version_event("a", 2, "promoted")
    sim.version_event("a", 3, "promoted")
    return sim


def result(sim: Sim, *args, **kwargs):
    effects = sim.command(*args, **kwargs)
    assert effects.result is not None
    return effects, effects.result


def test_rollback_returns_to_the_previous_stable_version():
    sim = promoted_twice()
    effects, outcome = result(sim, "rollback", "instance", "a")
    assert outcome.accepted and "v3 rolled back; serving v2" in outcome.detail
    assert sim.state("a")["stable"] == 2 and sim.state("a")["history"] == [1] and 3 in sim.state("a")["retired"]
    assert [(v["version"], v["status"]) for v in effects.versions] == [(3, "rolled_back"), (2, "promoted")]
    assert [(s.version, s.status) for s in effects.statuses] == [(3, "rolled_back")]
    assert ("a", 2, "stable") in sim.weights() and "rollback by alice" in sim.latest()["reason"]


def test_rollback_to_an_earlier_version_withdraws_everything_after_it():
    sim = promoted_twice()
    effects, outcome = result(sim, "rollback", "instance", "a", 1)
    assert outcome.accepted and sim.state("a")["stable"] == 1 and sim.state("a")["history"] == []
    assert [(s.version, s.status) for s in effects.statuses] == [(3, "rolled_back"), (2, "rolled_back")]
    assert ("a", 1, "stable") in sim.weights()


def test_rollback_ends_a_running_canary_first():
    sim = promoted_twice()
    sim.candidate("a", 4, parent=3)
    effects, outcome = result(sim, "rollback", "instance", "a")
    assert outcome.accepted and "canary v4 rolled back; serving v3" in outcome.detail
    assert [(v["version"], v["status"]) for v in effects.versions] == [(4, "rolled_back")]
    assert set(sim.weights()) == {("a", 3, "stable"), ("b", 1, "stable")}


def test_rollbacks_that_make_no_sense_are_rejected():
    sim = promoted_twice()
    assert result(sim, "rollback", "instance", "b")[1].reason == "nothing_to_roll_back"
    assert result(sim, "rollback", "instance", "a", 3)[1].reason == "nothing_to_roll_back"
    _, outcome = result(sim, "rollback", "instance", "a", 9)
    assert outcome.reason == "unknown_version" and "earlier: [1, 2]" in outcome.detail
    assert result(sim, "rollback", "instance", "zz")[1].reason == "unknown_instance"
    assert result(sim, "freeze", "route", "elsewhere", route="elsewhere")[1].reason == "unknown_route"
    assert sim.state("a")["stable"] == 3


def test_pin_overrides_the_stable_version_until_unpinned():
    sim = promoted_twice()
    _, outcome = result(sim, "pin", "instance", "a", 1)
    assert outcome.accepted and ("a", 1, "stable") in sim.weights()
    sim.candidate("a", 4, parent=3)
    assert sim.state("a")["canary"] is None and sim.state("a")["queued"]["version"] == 4
    assert result(sim, "pin", "instance", "a", 42)[1].reason == "unknown_version"
    _, outcome = result(sim, "unpin", "instance", "a")
    assert outcome.accepted and sim.state("a")["pinned"] is None
    assert ("a", 3, "stable") in sim.weights() and ("a", 4, "canary") in sim.weights()
    assert result(sim, "unpin", "instance", "a")[1].detail.endswith("was not pinned; nothing to do")


def test_freeze_and_unfreeze_are_idempotent():
    sim = promoted_twice()
    assert result(sim, "freeze", "route", "credit")[1].accepted
    published = len(sim.published)
    _, outcome = result(sim, "freeze", "route", "credit")
    assert outcome.accepted and "already frozen" in outcome.detail and len(sim.published) == published
    assert result(sim, "unfreeze", "route", "credit")[1].accepted and sim.latest()["frozen"] is False
