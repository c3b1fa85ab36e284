"""The paired bootstrap of the benchmarks: point values, pairing, interval widths, seeds."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.bench.bootstrap import Estimate, PairedBootstrap


def test_the_point_value_is_the_plain_mean_over_seeds_and_rows() -> None:
    rng = np.random.default_rng(1)
    values = (rng.random((3, 50)) < 0.7).astype(float)
    mask = np.arange(50) < 20
    boot = PairedBootstrap(3, 50, replicates=200, seed=0)
    assert boot.mean(values, where=mask).value == pytest.approx(values[:, :20].mean())
    assert boot.mean(values).value == pytest.approx(values.mean())


def test_differences_are_paired_so_shared_noise_cancels() -> None:
    rng = np.random.default_rng(2)
    a = rng.random((4, 300))
    boot = PairedBootstrap(4, 300, replicates=300, seed=0)
    shifted = boot.mean(a + 0.25) - boot.mean(a)
    low, high = shifted.interval()
    assert shifted.value == pytest.approx(0.25)
    assert low == pytest.approx(0.25) and high == pytest.approx(0.25)
    unpaired = boot.mean(a).interval()
    assert unpaired[1] - unpaired[0] > 0.01  # the same rows alone do vary


def test_row_interval_matches_the_binomial_standard_error() -> None:
    rows = 2000
    values = (np.arange(rows) % 2 == 0).astype(float)[None, :]  # accuracy 0.5 on one seed
    low, high = PairedBootstrap(1, rows, replicates=2000, seed=3).mean(values).interval(0.95)
    expected = 2 * 1.96 * math.sqrt(0.25 / rows)
    assert high - low == pytest.approx(expected, rel=0.15)


def test_seed_means_resample_the_seeds_only() -> None:
    boot = PairedBootstrap(5, 10, replicates=500, seed=0)
    constant = boot.seed_mean(np.full(5, 2.0))
    assert constant.interval() == (2.0, 2.0)
    varied = boot.seed_mean(np.arange(5.0))
    low, high = varied.interval()
    assert varied.value == 2.0 and low < 2.0 < high
    ratio = varied / constant
    assert ratio.value == 1.0 and ratio.interval()[0] == pytest.approx(low / 2)


def test_a_zero_denominator_gives_nan_not_an_error() -> None:
    zero = Estimate(0.0, np.array([0.0, 1.0, 2.0]))
    ratio = Estimate(1.0, np.ones(3)) / zero
    assert math.isnan(ratio.value)
    assert ratio.interval(0.5) == pytest.approx((0.625, 0.875))  # from the two finite replicates 1.0 and 0.5


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="must be >= 1"):
        PairedBootstrap(0, 10)
