"""Canary decisions: rollback, promotion (better or not worse), slice gates, ramp, freeze."""

from __future__ import annotations

import pytest

from schemas.slices import Slice
from streams.router.canary import Canary, CanaryCounts, CanaryPolicy, Counts, decide

POLICY = CanaryPolicy(draws=8000)
SLICE = Slice.from_record({"description": "young", "predicate": [{"feature": "age", "high": 30.0}]})


def counts(candidate, baseline, slice_candidate=None, slice_baseline=None):
    return CanaryCounts(
        Counts(*candidate),
        Counts(*baseline),
        {"young": Counts(*slice_candidate)} if slice_candidate else {},
        {"young": Counts(*slice_baseline)} if slice_baseline else {},
    )


def test_clearly_worse_is_rolled_back_once_both_sides_have_enough_samples():
    canary = Canary(version=4, baseline=3)
    assert decide(canary, counts((5, 5), (90, 10)), POLICY).action == "hold"  # too few samples
    verdict = decide(canary, counts((20, 20), (180, 20)), POLICY)
    assert verdict.action == "rollback"
    assert "worse than v3 overall" in verdict.reason and verdict.metrics["p_worse"] >= 0.95


def test_clearly_better_is_promoted():
    verdict = decide(Canary(version=4, baseline=3), counts((38, 2), (140, 60)), POLICY)
    assert verdict.action == "promote" and "better than v3" in verdict.reason


def test_equal_is_promoted_as_not_worse_only_after_enough_samples():
    canary = Canary(version=4, baseline=3)
    assert decide(canary, counts((80, 20), (800, 200)), POLICY).action in ("hold", "ramp")
    verdict = decide(canary, counts((2400, 600), (2400, 600)), POLICY)
    assert verdict.action == "promote" and "not worse than" in verdict.reason


def test_a_regression_on_the_target_slice_rolls_back_even_if_overall_is_better():
    canary = Canary(version=4, baseline=3, slices=(SLICE,))
    verdict = decide(canary, counts((95, 5), (160, 40), (10, 20), (28, 2)), POLICY)
    assert verdict.action == "rollback" and "regressed on its slice 'young'" in verdict.reason


def test_promotion_needs_the_target_slice_too():
    canary = Canary(version=4, baseline=3, slices=(SLICE,))
    better_overall = ((95, 5), (160, 40))
    assert decide(canary, counts(*better_overall), POLICY).action != "promote"  # no slice evidence yet
    assert decide(canary, counts(*better_overall, (30, 0), (15, 15)), POLICY).action == "promote"


def test_frozen_or_pinned_holds_but_still_rolls_back():
    canary = Canary(version=4, baseline=3)
    assert decide(canary, counts((38, 2), (140, 60)), POLICY, allow_changes=False).action == "hold"
    assert decide(canary, counts((20, 20), (180, 20)), POLICY, allow_changes=False).action == "rollback"


def test_ramp_after_step_samples_while_not_behind():
    canary = Canary(version=4, baseline=3, step=0, step_n=0)
    policy = CanaryPolicy(draws=8000, step_samples=50)
    assert decide(canary, counts((44, 6), (430, 70)), policy).action == "ramp"
    assert decide(canary, counts((40, 9), (430, 70)), policy).action == "hold"  # 49 < 50 new samples
    last = Canary(version=4, baseline=3, step=len(policy.steps) - 1)
    assert decide(last, counts((44, 6), (430, 70)), policy).action == "hold"


def test_undecided_after_max_samples_is_rejected():
    policy = CanaryPolicy(draws=8000, max_samples=200, noninferior_samples=10_000)
    verdict = decide(Canary(version=4, baseline=3), counts((170, 30), (170, 30)), policy)
    assert verdict.action == "reject" and "undecided" in verdict.reason


@pytest.mark.parametrize(
    ("features", "attributes", "expected"),
    [({"age": 25.0}, {}, True), ({"age": 30.0}, {}, False), ({}, {}, False), ({"age": -1.0}, {"age": "x"}, False)],
)
def test_slice_conditions(features, attributes, expected):
    assert SLICE.contains(features, attributes) is expected


def test_categorical_condition_reads_attributes_then_features():
    target = Slice.from_record({"description": "", "predicate": [{"feature": "region", "value": "north"}]})
    assert target.contains({}, {"region": "north"}) and not target.contains({}, {"region": "south"})
    assert target.description == "region == north"


def test_observe_counts_candidate_baseline_and_slices_only():
    canary = Canary(version=4, baseline=3, slices=(SLICE,))
    seen = CanaryCounts()
    assert seen.observe(canary, 4, True, {"age": 20.0}, {})
    assert seen.observe(canary, 3, False, {"age": 40.0}, {})
    assert not seen.observe(canary, 2, True, {"age": 20.0}, {})
    assert (seen.candidate.n, seen.baseline.n, seen.slice_candidate["young"].n) == (1, 1, 1)
    assert "young" not in seen.slice_baseline
    assert CanaryCounts.from_dict(seen.to_dict()) == seen
    assert Canary.from_dict(canary.to_dict()) == canary
