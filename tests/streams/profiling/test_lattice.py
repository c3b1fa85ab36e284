"""The lattice's matrix counts equal brute-force masks; the score bound holds; no same-feature pairs."""

from __future__ import annotations

import numpy as np

from schemas.slices import Slice
from streams.profiling.lattice import basic_slices, enumerate_slices, score_upper_bound, sliceline_score
from tests.streams.profiling import simulate as sim


def window(n: int = 800):
    rng = np.random.default_rng(3)
    frame, age, income, region = sim.uniform_frame(rng, n)
    wrong = rng.random(n) < np.where(sim.planted_box(age, income, region), 0.7, 0.1)
    return frame, wrong


def test_basic_slices_are_bins_half_lines_and_values():
    frame, _ = window()
    basics = basic_slices(frame, bins=4, max_values=20, min_support=10)
    age = [c for c in basics.conditions if c.feature == "age"]
    assert sum(c.low is None for c in age) == 2 and sum(c.high is None for c in age) == 2  # first bin, x < q2
    assert len(age) == 4 + 2  # 4 bins, and the half-lines at the middle edge
    assert sorted(c.value for c in basics.conditions if c.feature == "region") == sorted(sim.REGIONS)
    assert np.array_equal(basics.matrix[:, 0].astype(bool), basics.conditions[0].mask(frame))


def test_counts_equal_brute_force_on_the_rows_given():
    frame, wrong = window()
    basics = basic_slices(frame, bins=8, max_values=20, min_support=10)
    rows = np.random.default_rng(1).random(len(frame)) < 0.8
    cands = enumerate_slices(
        basics, wrong, rows, features=["age", "income", "region"], max_level=3, beam=16, min_support=10, alpha=0.95
    )
    levels = {len(m) for m in cands.members}
    assert levels == {1, 2, 3}
    assert len(set(cands.members)) == len(cands.members)
    for members, support, errors in zip(cands.members, cands.support, cands.errors, strict=True):
        predicate = Slice.of(basics.conditions[j] for j in members)
        assert len(predicate) == len(members)  # one condition per feature
        mask = predicate.mask(frame) & rows
        assert (support, errors) == (mask.sum(), wrong[mask].sum())
        assert support >= 10 and errors > 0


def test_conjunctions_only_over_the_features_given():
    frame, wrong = window()
    basics = basic_slices(frame, bins=8, max_values=20, min_support=10)
    cands = enumerate_slices(
        basics,
        wrong,
        np.ones(len(frame), bool),
        features=["age", "region"],
        max_level=3,
        beam=16,
        min_support=10,
        alpha=0.95,
    )
    for members in cands.members:
        if len(members) > 1:
            assert {basics.features[j] for j in members} <= {"age", "region"}


def test_upper_bound_bounds_every_sub_slice():
    rng = np.random.default_rng(0)
    n, rate = 1000, 0.1
    for _ in range(200):
        support = int(rng.integers(20, 400))
        errors = int(rng.integers(1, support + 1))
        bound = float(score_upper_bound(np.array(support), np.array(errors), n, rate, 0.95, 20))
        sub = int(rng.integers(20, support + 1))
        sub_errors = int(rng.integers(0, min(errors, sub) + 1))
        assert float(sliceline_score(np.array(sub), np.array(sub_errors), n, rate, 0.95)) <= bound + 1e-9
