"""The gate before publication: better on the weak slice, not worse elsewhere, few negative flips.

All measured on held-out real rows, old and new version on the same rows (paired):

- **slice gain**: new minus old accuracy on rows inside the target slices; its lower
  one-sided confidence bound (paired, from the discordant rows) must reach ``min_gain``;
- **complement drop**: old minus new accuracy outside the slices, at most ``tolerance``;
- **negative-flip rate**: share of all rows the old version got right and the new one
  gets wrong, at most ``max_flip_rate``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np


@dataclass(frozen=True)
class GatePolicy:
    min_gain: float = 0.02
    confidence: float = 0.95
    tolerance: float = 0.01
    max_flip_rate: float = 0.03
    min_slice_rows: int = 30


@dataclass(frozen=True)
class GateResult:
    passed: bool
    reasons: tuple[str, ...]  # why it failed (empty when it passed)
    metrics: dict[str, float]
    summary: str


def paired_gain_bound(old: np.ndarray, new: np.ndarray, confidence: float) -> tuple[float, float]:
    """Accuracy gain of ``new`` over ``old`` on the same rows and its lower one-sided confidence bound.

    >>> gain, low = paired_gain_bound(np.array([0, 0, 1, 1] * 25, bool), np.array([1, 1, 1, 1] * 25, bool), 0.95)
    >>> round(gain, 2), round(low, 2)
    (0.5, 0.42)
    """
    n = len(old)
    if n == 0:
        return 0.0, -math.inf
    gained = float(np.sum(~old & new))
    lost = float(np.sum(old & ~new))
    gain = (gained - lost) / n
    variance = max(0.0, (gained + lost) / n - gain**2) / n
    z = NormalDist().inv_cdf(confidence)
    return gain, gain - z * math.sqrt(variance)


def evaluate_gate(
    old_correct: np.ndarray, new_correct: np.ndarray, in_slice: np.ndarray, policy: GatePolicy
) -> GateResult:
    """Judge a candidate from per-row correctness of the old and new version on held-out rows.

    >>> rows = 200
    >>> in_slice = np.arange(rows) < 100
    >>> old = np.where(in_slice, np.arange(rows) % 2 == 0, True)
    >>> better = evaluate_gate(old, np.ones(rows, bool), in_slice, GatePolicy())
    >>> better.passed, better.metrics["slice_gain"]
    (True, 0.5)
    >>> evaluate_gate(old, old, in_slice, GatePolicy()).reasons[0][:10]
    'slice gain'
    """
    old_correct, new_correct, in_slice = (np.asarray(a, dtype=bool) for a in (old_correct, new_correct, in_slice))
    reasons = []
    s_old, s_new = old_correct[in_slice], new_correct[in_slice]
    c_old, c_new = old_correct[~in_slice], new_correct[~in_slice]
    gain, gain_low = paired_gain_bound(s_old, s_new, policy.confidence)
    flips = float(np.mean(old_correct & ~new_correct)) if len(old_correct) else 0.0
    metrics = {
        "slice_rows": float(in_slice.sum()),
        "slice_accuracy_old": _mean(s_old),
        "slice_accuracy_new": _mean(s_new),
        "slice_gain": gain,
        "slice_gain_low": gain_low if math.isfinite(gain_low) else -1.0,
        "complement_rows": float((~in_slice).sum()),
        "complement_accuracy_old": _mean(c_old),
        "complement_accuracy_new": _mean(c_new),
        "complement_drop": _mean(c_old) - _mean(c_new) if len(c_old) else 0.0,
        "negative_flip_rate": flips,
    }
    if len(s_old) < policy.min_slice_rows:
        reasons.append(f"only {len(s_old)} held-out rows in the slice, {policy.min_slice_rows} needed")
    elif gain_low < policy.min_gain:
        reasons.append(
            f"slice gain {gain:+.3f} (lower {policy.confidence:.0%} bound {gain_low:+.3f}) below {policy.min_gain:+.3f}"
        )
    if metrics["complement_drop"] > policy.tolerance:
        reasons.append(f"complement accuracy drops {metrics['complement_drop']:.3f} > {policy.tolerance:.3f}")
    if flips > policy.max_flip_rate:
        reasons.append(f"negative-flip rate {flips:.3f} > {policy.max_flip_rate:.3f}")
    summary = (
        f"slice accuracy {metrics['slice_accuracy_old']:.3f} -> {metrics['slice_accuracy_new']:.3f} "
        f"({gain:+.3f}, lower bound {metrics['slice_gain_low']:+.3f}) on {len(s_old)} rows; complement "
        f"{metrics['complement_accuracy_old']:.3f} -> {metrics['complement_accuracy_new']:.3f} on {len(c_old)} rows; "
        f"negative flips {flips:.3%}"
    )
    return GateResult(not reasons, tuple(reasons), metrics, summary)


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if len(values) else 0.0
