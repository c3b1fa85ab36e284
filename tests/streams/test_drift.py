"""Drift detectors of an instance."""

from __future__ import annotations

import random

from streams.drift import FeatureDrift, InstanceDrift


def _run(detector: InstanceDrift, rng: random.Random, n: int, error: float, mean: float) -> list[list[str]]:
    return [detector.update(rng.random() >= error, {"x": rng.gauss(mean, 1), "y": rng.random()}) for _ in range(n)]


def test_stable_data_raises_nothing():
    rng = random.Random(1)
    assert not any(_run(InstanceDrift(reference_size=300), rng, 3000, 0.1, 0.0))


def test_a_jump_in_the_error_rate_is_caught_by_adwin():
    rng = random.Random(2)
    detector = InstanceDrift(reference_size=300)
    _run(detector, rng, 1500, 0.05, 0.0)
    fired = [f for f in _run(detector, rng, 1500, 0.5, 0.0) if f]
    assert fired and "adwin:error_rate" in fired[0]


def test_a_shifted_feature_is_caught_by_psi_and_the_reference_restarts():
    rng = random.Random(3)
    detector = InstanceDrift(reference_size=300)
    _run(detector, rng, 1000, 0.05, 0.0)
    fired = [f for f in _run(detector, rng, 1000, 0.05, 2.5) if f]
    assert fired and fired[0] == ["psi:x"]
    assert not any(_run(detector, rng, 1500, 0.05, 2.5)), "post-drift data is the new reference"


def test_feature_drift_ignores_features_missing_from_the_reference():
    detector = FeatureDrift(reference_size=10, window_size=10, check_every=5)
    for i in range(10):
        detector.update({"x": float(i)})
    assert detector.update({"x": 1.0, "new": 5.0}).drift_detected is False
