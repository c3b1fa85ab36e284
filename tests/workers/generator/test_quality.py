"""The quality guard: rows like the real slice pass; shifted or out-of-range rows fail, with the reason."""

from __future__ import annotations

import numpy as np

from workers.generator.quality import guard


def run(synthetic: np.ndarray, real: np.ndarray):
    return guard(synthetic, real, synthetic, real, ["a", "b"], max_auc=0.9, max_range_violations=0.05, seed=0)


def test_rows_from_the_same_distribution_pass():
    rng = np.random.default_rng(0)
    report = run(rng.normal(size=(400, 2)), rng.normal(size=(400, 2)))
    assert report.passed, report.problems
    assert report.scores["discriminator_auc"] < 0.65
    assert report.scores["ks_max"] < 0.15


def test_rows_a_discriminator_tells_apart_fail():
    rng = np.random.default_rng(0)
    report = run(rng.normal(3.0, 0.2, size=(400, 2)), rng.normal(size=(400, 2)))
    assert not report.passed
    assert any("discriminator AUC" in p for p in report.problems)


def test_values_outside_the_real_ranges_fail():
    rng = np.random.default_rng(0)
    real = rng.uniform(0, 1, size=(400, 2))
    synthetic = real.copy()
    synthetic[:100, 0] = 5.0
    report = run(synthetic, real)
    assert report.scores["range_violations.a"] == 0.25
    assert any("range violations" in p for p in report.problems)


def test_an_empty_batch_fails():
    report = run(np.zeros((0, 2)), np.zeros((10, 2)))
    assert not report.passed and report.problems == ["no synthetic rows"]
