"""The guards' statistics agree with scipy's reference implementations."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from streams.profiling.stats import bh_cutoff, binom_greater, fisher_greater, two_proportions_greater, wilson


@pytest.mark.parametrize(("k", "n"), [(0, 10), (3, 10), (10, 10), (17, 250), (1000, 2000)])
def test_wilson_equals_scipy(k, n):
    ref = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    low, high = wilson(k, n)
    assert (float(low), float(high)) == pytest.approx((ref.low, ref.high), abs=1e-9)


def test_wilson_of_nothing_is_uninformative():
    assert tuple(map(float, wilson(0, 0))) == (0.0, 1.0)


@pytest.mark.parametrize(("k", "n", "p"), [(0, 10, 0.1), (5, 20, 0.1), (40, 100, 0.2), (100, 100, 0.5)])
def test_binomial_one_sided_equals_scipy(k, n, p):
    assert float(binom_greater(k, n, p)) == pytest.approx(stats.binomtest(k, n, p, alternative="greater").pvalue)


def test_fisher_and_z_test_agree_in_direction():
    assert fisher_greater(30, 50, 10, 50) < 1e-3 and fisher_greater(10, 50, 30, 50) > 0.99
    assert float(two_proportions_greater(30, 50, 10, 50)) < 1e-3
    assert fisher_greater(1, 0, 1, 5) == 1.0 and float(two_proportions_greater(1, 0, 1, 5)) == 1.0


def test_bh_cutoff_rejects_what_scipy_adjusts_below_q():
    rng = np.random.default_rng(0)
    p = np.concatenate([rng.uniform(size=200), rng.uniform(0, 1e-3, size=20)])
    cutoff = bh_cutoff(p, 0.05)
    adjusted = stats.false_discovery_control(p, method="bh")
    assert np.array_equal(p <= cutoff, adjusted <= 0.05)
    assert bh_cutoff(np.array([]), 0.05) == -1.0
