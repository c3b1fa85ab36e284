"""Probability of being best, and the floor/cap allocation."""

from __future__ import annotations

import itertools
import random

import pytest

from streams.router.weights import Beta, allocate, probability_best, probability_greater


def test_probability_best_favours_the_more_accurate_arm_and_sums_to_one():
    shares = probability_best([Beta.of(80, 20), Beta.of(70, 30), Beta.of(20, 80)], draws=20000)
    assert sum(shares) == pytest.approx(1.0)
    assert shares[0] > 0.9 and shares[2] == 0.0


def test_probability_best_is_even_for_equal_evidence_and_deterministic():
    shares = probability_best([Beta.of(50, 50)] * 4, draws=40000)
    assert shares == pytest.approx([0.25] * 4, abs=0.02)
    assert probability_best([Beta.of(5, 3), Beta.of(3, 5)], seed=7) == probability_best(
        [Beta.of(5, 3), Beta.of(3, 5)], seed=7
    )


def test_probability_best_of_one_or_none():
    assert probability_best([Beta.of(1, 1)]) == [1.0]
    assert probability_best([]) == []


def test_probability_greater_agrees_with_the_closed_form_for_uniform_priors():
    # Beta(1,1) vs Beta(1,1): 1/2; Beta(2,1) vs Beta(1,1): P(X>Y) = 2/3.
    assert probability_greater(Beta(1, 1), Beta(1, 1), draws=100000) == pytest.approx(0.5, abs=0.01)
    assert probability_greater(Beta(2, 1), Beta(1, 1), draws=100000) == pytest.approx(2 / 3, abs=0.01)
    assert probability_greater(Beta.of(50, 50), Beta.of(55, 45), margin=0.5, draws=10000) == 1.0


def test_beta_rejects_negative_counts():
    with pytest.raises(ValueError, match="counts must be >= 0"):
        Beta.of(-1, 2)


@pytest.mark.parametrize("n", [2, 3, 5, 10])
def test_allocation_respects_floor_and_cap_and_sums_to_one(n):
    rng = random.Random(n)
    for _ in range(200):
        scores = [rng.random() ** 4 for _ in range(n)]
        shares = allocate(scores, floor=0.05, cap=0.7)
        assert sum(shares) == pytest.approx(1.0, abs=1e-9)
        assert all(0.05 - 1e-9 <= s <= 0.7 + 1e-9 for s in shares)
        # order-preserving: a higher score never gets a smaller share
        pairs = sorted(zip(scores, shares, strict=True))
        assert all(a[1] <= b[1] + 1e-9 for a, b in itertools.pairwise(pairs))


def test_allocation_is_proportional_inside_the_bounds():
    assert allocate([0.5, 0.3, 0.2], floor=0.05, cap=0.9) == pytest.approx([0.5, 0.3, 0.2])


def test_a_lone_instance_takes_everything_and_infeasible_bounds_share_equally():
    assert allocate([0.3], floor=0.05, cap=0.5) == [1.0]
    assert allocate([0.9, 0.1, 0.0], floor=0.4, cap=0.9) == pytest.approx([1 / 3] * 3)
    assert allocate([0.9, 0.1, 0.0], floor=0.0, cap=0.3) == pytest.approx([1 / 3] * 3)
    assert allocate([], floor=0.1, cap=0.5) == []


def test_zero_scores_get_the_floor():
    assert allocate([1.0, 0.0, 0.0, 0.0], floor=0.05, cap=0.8) == pytest.approx([0.8, 0.2 / 3, 0.2 / 3, 0.2 / 3])
    assert allocate([1.0, 0.0, 0.0, 0.0, 0.0, 0.0], floor=0.05, cap=0.8) == pytest.approx([0.75] + [0.05] * 5)


def test_a_temperature_gives_a_nearly_as_good_instance_traffic_back():
    healed, best, weak = Beta.of(910, 90), Beta.of(965, 35), Beta.of(600, 400)
    strict = allocate(probability_best([healed, best, weak], draws=20000), floor=0.1, cap=0.8)
    soft = allocate(probability_best([healed, best, weak], temperature=0.1, draws=20000), floor=0.1, cap=0.8)
    assert strict[0] == 0.1 and strict[1] == 0.8, "without a temperature the leader takes the cap"
    assert soft[2] == 0.1, "an instance far behind stays at the floor"
    assert 0.2 < soft[0] < soft[1], "the nearly-as-good one gets a fair share, still less than the best"
