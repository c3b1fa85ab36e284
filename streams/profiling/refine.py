"""Sharpen a slice found on coarse bins into the smallest predicate that explains its errors.

Quantile bins rarely line up with the region an instance gets wrong. Starting from a significant
conjunction of bins, each condition is re-fitted in turn with the others held fixed
(coordinate ascent, a few rounds):

- a numeric condition becomes the interval ``[low, high)`` that maximises the Bernoulli
  log-likelihood ratio of "error rate differs inside vs outside" among the rows that satisfy the
  other conditions (Kulldorff's scan statistic over ``edges`` quantile edges, open ends allowed;
  a cut lies half-way between the last value outside and the first inside).
  It merges adjacent bins, moves edges to where the error rate changes, and is not biased
  towards small slices the way an error-rate maximiser is;
- a condition whose inside is not significantly worse than its outside, or whose best interval
  is the whole range, is dropped. The test is one-sided (two proportions) at ``level`` divided
  by the number of intervals scanned (values, for a categorical condition): the interval is the
  best of many, and without the correction chance sub-slices of a real slice survive.

Edges are rounded to a step of about 1/200 of the feature's spread (a power of ten), so that a
stable region gets the same predicate from one build to the next.
"""

from __future__ import annotations

import math

import numpy as np

from schemas.slices import Condition, Slice
from streams.profiling.stats import bernoulli_llr, two_proportions_greater
from streams.profiling.window import Frame


def refine(
    predicate: Slice,
    frame: Frame,
    rows: np.ndarray,
    *,
    edges: int = 64,
    level: float = 0.01,
    min_support: int = 20,
    rounds: int = 3,
) -> Slice:
    """The re-fitted predicate on ``rows`` of ``frame`` (never empty: the last condition stays)."""
    errors = frame.errors
    for _ in range(rounds):
        before = predicate
        for feature in predicate.features:
            condition = predicate.get(feature)
            if condition is None:
                continue
            base = predicate.without(feature).mask(frame) & rows
            if condition.numeric:
                new = _fit_interval(feature, frame.numeric[feature][base], errors[base], edges, level, min_support)
            else:
                values = max(1, len(set(frame.categorical[feature][base].tolist()) - {None}))
                new = condition if _elevated(condition.mask(frame)[base], errors[base], level / values) else None
            if new is not None:
                predicate = predicate.replace(new)
            elif len(predicate) > 1:
                predicate = predicate.without(feature)
        if predicate == before:
            break
    return predicate


def _elevated(inside: np.ndarray, errors: np.ndarray, level: float) -> bool:
    k_in, n_in = int(errors[inside].sum()), int(inside.sum())
    k_out, n_out = int(errors[~inside].sum()), int((~inside).sum())
    return bool(two_proportions_greater(k_in, n_in, k_out, n_out) <= level)


def best_interval(
    x: np.ndarray, errors: np.ndarray, *, edges: int = 64, min_support: int = 20
) -> tuple[float | None, float | None] | None:
    """The ``[low, high)`` whose error rate stands out most (scan statistic); None if nothing does.

    Rows with a missing (or infinite) ``x`` count as outside. ``None`` bounds are open ends; ``(None, None)``
    means the best "interval" is everything.

    >>> rng = np.random.default_rng(0)
    >>> x = rng.uniform(0, 100, 2000)
    >>> wrong = rng.random(2000) < np.where((x >= 30) & (x < 60), 0.8, 0.05)
    >>> low, high = best_interval(x, wrong)
    >>> abs(low - 30) < 2, abs(high - 60) < 2
    (True, True)
    """
    found, _ = _scan(x, errors, edges=edges, min_support=min_support)
    return found


def _scan(
    x: np.ndarray, errors: np.ndarray, *, edges: int, min_support: int
) -> tuple[tuple[float | None, float | None] | None, int]:
    """``best_interval`` and the number of intervals it chose from."""
    present = np.isfinite(x)
    xs_order = np.argsort(x[present], kind="stable")
    xs = x[present][xs_order]
    es = errors[present][xs_order].astype(np.float64)
    if xs.size < min_support:
        return None, 0
    total_n, total_k = float(errors.size), float(errors.sum())
    cum = np.concatenate([[0.0], np.cumsum(es)])
    cuts = np.unique(np.quantile(xs, np.arange(1, edges) / edges))
    cuts = cuts[cuts > xs[0]]
    lows = np.concatenate([[-np.inf], cuts])
    highs = np.concatenate([cuts, [np.inf]])
    i_lo = np.searchsorted(xs, lows, side="left")
    i_hi = np.searchsorted(xs, highs, side="left")
    n_in = (i_hi[None, :] - i_lo[:, None]).astype(np.float64)
    k_in = cum[i_hi][None, :] - cum[i_lo][:, None]
    n_out, k_out = total_n - n_in, total_k - k_in
    with np.errstate(divide="ignore", invalid="ignore"):
        higher = k_in / np.maximum(n_in, 1) > k_out / np.maximum(n_out, 1)
    valid = (n_in >= min_support) & higher & (lows[:, None] < highs[None, :])
    tested = int(valid.sum())
    if not tested:
        return None, 0
    llr = np.where(valid, bernoulli_llr(k_in, n_in, k_out, n_out), -np.inf)
    a, b = np.unravel_index(int(np.argmax(llr)), llr.shape)
    # Cut half-way between the last value outside and the first inside.
    low = None if a == 0 else float((xs[i_lo[a] - 1] + xs[i_lo[a]]) / 2)
    high = None if b == highs.size - 1 or i_hi[b] >= xs.size else float((xs[i_hi[b] - 1] + xs[i_hi[b]]) / 2)
    return (low, high), tested


def _fit_interval(
    feature: str, x: np.ndarray, errors: np.ndarray, edges: int, level: float, min_support: int
) -> Condition | None:
    found, tested = _scan(x, errors, edges=edges, min_support=min_support)
    if found is None or found == (None, None):
        return None
    present = x[np.isfinite(x)]
    step = nice_step(float(present.max() - present.min()))
    low, high = (None if v is None else _round(v, step) for v in found)
    if low is not None and high is not None and high <= low:
        low, high = found
    condition = Condition(feature, low, high)
    return condition if _elevated(condition.within(x), errors, level / max(1, tested)) else None


def nice_step(spread: float) -> float:
    """A power of ten near ``spread / 200``: the rounding step of reported edges.

    >>> nice_step(60.0), nice_step(200000.0)
    (0.1, 1000.0)
    """
    if not math.isfinite(spread) or spread <= 0:
        return 0.0
    return 10.0 ** math.floor(math.log10(spread / 200))


def _round(value: float, step: float) -> float:
    if step <= 0:
        return value
    digits = max(0, -math.floor(math.log10(step)))
    return round(round(value / step) * step, digits)
