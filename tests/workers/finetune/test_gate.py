"""The publication gate on paired per-row correctness of the old and new version."""

from __future__ import annotations

import numpy as np

from workers.finetune.gate import GatePolicy, evaluate_gate, paired_gain_bound

ROWS = 1000
IN_SLICE = np.arange(ROWS) < 200
OLD = np.where(IN_SLICE, np.arange(ROWS) % 2 == 0, np.arange(ROWS) % 10 != 0)  # 50% in the slice, 90% outside


def test_a_clear_slice_gain_with_nothing_lost_passes():
    new = OLD | IN_SLICE
    result = evaluate_gate(OLD, new, IN_SLICE, GatePolicy())
    assert result.passed, result.reasons
    assert result.metrics["slice_accuracy_old"] == 0.5 and result.metrics["slice_accuracy_new"] == 1.0
    assert result.metrics["negative_flip_rate"] == 0.0


def test_a_gain_within_noise_fails():
    new = OLD.copy()
    new[1:9:2] = True  # 4 of 200 slice rows fixed: +0.02, but not with confidence
    result = evaluate_gate(OLD, new, IN_SLICE, GatePolicy(min_gain=0.02))
    assert not result.passed
    assert result.reasons[0].startswith("slice gain")


def test_losing_the_complement_fails():
    new = OLD | IN_SLICE
    new[200:230] = False  # 30 complement rows lost, 25 of them right before: -3.1 points
    result = evaluate_gate(OLD, new, IN_SLICE, GatePolicy(tolerance=0.01))
    assert any("complement accuracy drops" in r for r in result.reasons)


def test_too_many_negative_flips_fail():
    new = OLD | IN_SLICE
    new[0:100:2] = False  # 50 slice rows the old version got right are now wrong (5% of all rows)
    result = evaluate_gate(OLD, new, IN_SLICE, GatePolicy(max_flip_rate=0.03))
    assert any("negative-flip rate" in r for r in result.reasons)


def test_too_few_slice_rows_cannot_be_judged():
    small = np.arange(ROWS) < 10
    result = evaluate_gate(OLD, OLD | small, small, GatePolicy(min_slice_rows=30))
    assert not result.passed and "10 held-out rows in the slice" in result.reasons[0]


def test_the_bound_tightens_with_more_rows():
    old, new = np.array([False, True] * 20), np.array([True, True] * 20)
    _, few = paired_gain_bound(old, new, 0.95)
    _, many = paired_gain_bound(np.tile(old, 10), np.tile(new, 10), 0.95)
    assert few < many < 0.5
