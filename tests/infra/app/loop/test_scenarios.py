"""Scenario files: the shipped ones load; a bad one is a clear error naming the problem."""

from __future__ import annotations

import json

import pytest

from infra.app.scenarios import available_scenarios, load_scenario
from infra.app.scenarios.agrawal import rule


def test_shipped_scenarios_load():
    assert "agrawal" in available_scenarios()
    scenario = load_scenario("agrawal")
    assert scenario.duration_s == sum(p.duration_s for p in scenario.phases)
    assert scenario.phase_start("drift") == scenario.phases[0].duration_s
    assert {w.instance for w in scenario.weaknesses} == {"agrawal-a", "agrawal-b"}
    assert scenario.scaled(0.5).duration_s == scenario.duration_s / 2


def test_agrawal_rule_is_the_generator_labelling():
    scenario = load_scenario("agrawal")
    rows = scenario.dataset.draw(2000, seed=3)
    assert all(rule(*row) == label for row, label in rows)


def test_a_user_scenario_is_read_from_a_path(tmp_path):
    raw = json.loads((load_scenario.__globals__["HERE"] / "agrawal.json").read_text())
    raw["name"] = "mine"
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(raw))
    assert load_scenario(path).name == "mine"


def region(condition):
    return {"description": "x", "predicate": [condition]}


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda r: r.update(route=None), "route"),
        (lambda r: r["instances"].pop(), None),  # two instances are enough
        (lambda r: r["weaknesses"].append({**r["weaknesses"][0], "phase": "never"}), "unknown instance or phase"),
        (lambda r: r["settings"].update(PATH="/tmp"), "INSITU_"),
        (lambda r: r.update(label_functions=["not a path"]), "module:function"),
        (lambda r: r["phases"][0].update(exclude=region({"feature": "age"})), "no low"),
        (lambda r: r["phases"][0].update(exclude=region({"feature": "pay", "low": 1})), "pay"),
    ],
)
def test_invalid_scenarios_are_refused_with_the_reason(tmp_path, change, problem):
    raw = json.loads((load_scenario.__globals__["HERE"] / "agrawal.json").read_text())
    change(raw)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(raw))
    if problem is None:
        assert load_scenario(path).name == "agrawal"
        return
    with pytest.raises(ValueError, match=problem):
        load_scenario(path)


def test_unknown_names_list_the_shipped_scenarios():
    with pytest.raises(ValueError, match=r"shipped: .*agrawal"):
        load_scenario("nope")
