"""Slice search: finds planted regions, stays quiet under the null, respects its guards."""

from __future__ import annotations

import numpy as np
import pytest

from streams.profiling.slices import SliceConfig, find_slices
from streams.profiling.window import Frame
from tests.streams.profiling import simulate as sim


def labelled(seed: int, n: int, error_rate) -> tuple[Frame, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame, age, income, region = sim.uniform_frame(rng, n)
    wrong = rng.random(n) < error_rate(age, income, region)
    return (
        Frame(frame.numeric, frame.categorical, frame.labels, frame.predictions, ~wrong, frame.ts),
        age,
        income,
        region,
    )


@pytest.mark.parametrize("seed", range(6))
def test_no_slice_when_errors_are_uniform(seed):
    frame, *_ = labelled(seed, 2000, lambda a, i, r: np.full(a.shape, 0.1))
    assert find_slices(frame) == []


def test_finds_a_categorical_and_numeric_region_with_stats_on_the_whole_window():
    def rate(age, income, region):
        return np.where((region == "west") & (age < 30), 0.7, 0.05)

    frame, age, _, region = labelled(7, 2000, rate)
    found = find_slices(frame)
    assert found, "the planted region was not found"
    top = found[0]
    assert top.predicate.features == ["age", "region"]
    assert top.predicate.get("region").value == "west" and abs(top.predicate.get("age").high - 30) < 2
    mask = top.predicate.mask(frame)
    assert min(sim.precision_recall(mask, (region == "west") & (age < 30))) > 0.85
    assert top.support == mask.sum() and top.errors == frame.errors[mask].sum()
    assert top.error_low < top.error < top.error_high and top.lift == pytest.approx(top.error / frame.errors.mean())
    assert top.p_value < 1e-6 and top.score > 0


def test_two_regions_are_reported_once_each():
    def rate(age, income, region):
        return np.where(sim.planted_box(age, income, region) | sim.hard_corner(age, income, region), 0.7, 0.05)

    frame, age, income, region = labelled(11, 3000, rate)
    found = find_slices(frame)
    masks = [s.predicate.mask(frame) for s in found[:2]]
    assert len(found) == 2
    targets = [sim.planted_box(age, income, region), sim.hard_corner(age, income, region)]
    for target in targets:  # each region is covered by exactly one slice
        assert sum((m & target).sum() / target.sum() > 0.8 for m in masks) == 1


def test_minimum_support_and_small_windows():
    frame, *_ = labelled(3, 2000, lambda a, i, r: np.where(a < 19, 0.9, 0.05))  # about 33 events
    found = find_slices(frame, config=SliceConfig(min_support=50))
    assert all(s.support >= 50 for s in found)  # at most a larger slice around the small region
    assert find_slices(Frame.concat([]), config=SliceConfig()) == []
    small, *_ = labelled(3, 50, lambda a, i, r: np.where(a < 40, 0.9, 0.05))
    assert find_slices(small) == []  # below min_events


def test_ranking_picks_the_features_conjunctions_combine():
    def rate(age, income, region):
        return np.where(sim.planted_box(age, income, region), 0.8, 0.05)

    frame, *_ = labelled(5, 2000, rate)
    cfg = SliceConfig(max_features=2, refine=False)
    found = find_slices(frame, ranking={"region": 1.0, "age": 0.5, "income": 0.1}, config=cfg)
    assert found and len(found[0].predicate) <= 2  # the two best single-slice features always join


def test_reported_slices_do_not_mostly_cover_each_other():
    for seed in range(4):

        def rate(age, income, region):
            return np.where(sim.planted_box(age, income, region), 0.8, np.where(region == "east", 0.15, 0.05))

        frame, *_ = labelled(seed, 2500, rate)
        found = find_slices(frame)
        covered = np.zeros(len(frame), bool)
        for s in found:
            mask = s.predicate.mask(frame)
            assert (mask & covered).sum() < 0.5 * mask.sum(), s.predicate.describe()
            covered |= mask
