"""Refinement finds the interval where errors concentrate and drops conditions that do not matter."""

from __future__ import annotations

import numpy as np

from schemas.slices import Condition, Slice
from streams.profiling.refine import best_interval, nice_step, refine
from tests.streams.profiling import simulate as sim


def test_best_interval_open_ended_and_none():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, 3000)
    low, high = best_interval(x, rng.random(3000) < np.where(x >= 0.25, 0.5, 0.02))
    assert abs(low - 0.25) < 0.02 and high is None
    assert best_interval(x[:10], np.ones(10, bool)) is None  # below the minimum support
    assert best_interval(x, np.zeros(3000, bool)) is None  # no errors anywhere


def test_missing_values_count_as_outside():
    x = np.array([np.nan] * 100 + list(np.linspace(0, 1, 100)))
    wrong = np.array([True] * 100 + [False] * 100)
    assert best_interval(x, wrong) is None  # the errors are where x is missing: no interval of x explains them


def test_refine_moves_coarse_bins_to_the_planted_box_and_drops_noise():
    rng = np.random.default_rng(1)
    frame, age, income, region = sim.uniform_frame(rng, 3000)
    wrong = rng.random(3000) < np.where(sim.planted_box(age, income, region), 0.8, 0.05)
    frame = type(frame)(frame.numeric, frame.categorical, frame.labels, frame.predictions, ~wrong, frame.ts)
    coarse = Slice.of(
        [Condition("age", 33.0, 40.0), Condition("income", low=150_000.0), Condition("region", value="north")]
    )
    refined = refine(coarse, frame, np.ones(3000, bool))
    assert refined.features == ["age", "income"]
    age_c, income_c = refined.get("age"), refined.get("income")
    assert abs(age_c.low - 25) < 1.5 and abs(age_c.high - 45) < 1.5
    assert abs(income_c.low - 100_000) < 5_000 and income_c.high is None
    assert age_c.low == round(age_c.low, 1) and income_c.low % 1000 == 0  # rounded edges


def test_nice_step():
    assert nice_step(0.0) == 0.0 and nice_step(2.0) == 0.01
