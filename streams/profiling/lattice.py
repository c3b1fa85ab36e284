"""SliceLine's lattice: basic slices and their conjunctions, counted with matrix products.

Basic slices are one condition each: quantile bins of a numeric feature (edges from the
instance's own window) and the half-lines between bins (``x < edge``, ``x >= edge``, i.e. runs of
adjacent bins merged up to an open end), and the frequent values of a categorical feature or
attribute. A conjunction holds at most one condition per feature.

As in SliceLine (Rabbani et al., SIGMOD 2021), supports and error counts of every pair come from
one product of the 0/1 matrix of basic slices with itself; level 3 extends only the best level-2
slices (a beam) whose score upper bound can still beat the current ``beam``-th best score, and
only with conditions on the top-ranked features. A conjunction whose rows equal one of its
parents' is skipped: the smaller predicate says the same.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from schemas.slices import Condition
from streams.profiling.window import Frame


def sliceline_score(support: np.ndarray, errors: np.ndarray, n: float, rate: float, alpha: float) -> np.ndarray:
    """SliceLine's score: ``alpha * (slice error / overall error - 1) - (1 - alpha) * (n / support - 1)``.

    Positive when the slice's error lift outweighs the penalty for being small.

    >>> round(float(sliceline_score(np.array(100), np.array(40), 1000, 0.1, 0.95)), 3)
    2.4
    """
    s = np.maximum(np.asarray(support, dtype=np.float64), 1.0)
    return alpha * ((np.asarray(errors) / s) / rate - 1) - (1 - alpha) * (n / s - 1)


def score_upper_bound(support: np.ndarray, errors: np.ndarray, n: float, rate: float, alpha: float, min_support: int):
    """The best score any sub-slice of slices with ``support`` rows and ``errors`` errors can reach.

    A sub-slice has between ``min_support`` and ``support`` rows and at most ``errors`` errors;
    the score is evaluated at the candidate sizes where its maximum can lie (SliceLine, sec. 4.2).
    """
    support = np.asarray(support, dtype=np.float64)
    errors = np.asarray(errors, dtype=np.float64)
    best = np.full(support.shape, -np.inf)
    for size in (np.full(support.shape, float(min_support)), np.maximum(errors, min_support), support):
        size = np.minimum(size, support)
        best = np.maximum(best, sliceline_score(size, np.minimum(errors, size), n, rate, alpha))
    return best


@dataclass(frozen=True)
class Basics:
    """The basic slices of a window: conditions, their features and a 0/1 row matrix."""

    conditions: list[Condition]
    features: list[str]
    matrix: np.ndarray  # (rows, conditions) float32 of 0/1


def basic_slices(frame: Frame, *, bins: int, max_values: int, min_support: int) -> Basics:
    """Quantile bins and half-lines of numeric columns, frequent values of categorical ones."""
    conditions: list[Condition] = []
    for name, x in frame.numeric.items():
        present = x[np.isfinite(x)]
        if present.size < min_support:
            continue
        edges = np.unique(np.quantile(present, np.arange(1, bins) / bins))
        edges = edges[edges > present.min()]
        bounds: list[float | None] = [None, *map(float, edges), None]
        ranges = set(itertools.pairwise(bounds))
        for edge in edges[1:-1]:
            ranges |= {(None, float(edge)), (float(edge), None)}
        conditions += [Condition(name, lo, hi) for lo, hi in sorted(ranges, key=_range_key) if (lo, hi) != (None, None)]
    for name, column in frame.categorical.items():
        values, counts = np.unique(column[column != None].astype(str), return_counts=True)  # noqa: E711
        for i in np.argsort(-counts, kind="stable")[:max_values]:
            if counts[i] >= min_support:
                conditions.append(Condition(name, value=str(values[i])))
    matrix = np.zeros((len(frame), len(conditions)), dtype=np.float32)
    for j, condition in enumerate(conditions):
        matrix[:, j] = condition.mask(frame)
    return Basics(conditions, [c.feature for c in conditions], matrix)


def _range_key(r: tuple[float | None, float | None]) -> tuple[float, float]:
    return (-np.inf if r[0] is None else r[0], np.inf if r[1] is None else r[1])


@dataclass(frozen=True)
class Candidates:
    """Slices evaluated in one search: members (indices into ``Basics``), support and errors."""

    members: list[tuple[int, ...]]
    support: np.ndarray
    errors: np.ndarray


def enumerate_slices(
    basics: Basics,
    errors: np.ndarray,
    rows: np.ndarray,
    *,
    features: Sequence[str],
    max_level: int,
    beam: int,
    min_support: int,
    alpha: float,
) -> Candidates:
    """Every basic slice, conjunctions of 2 and 3 over ``features``; counts on ``rows`` only."""
    r = rows.astype(np.float32)
    b = basics.matrix * r[:, None]
    e = errors.astype(np.float32) * r
    n, total = float(r.sum()), float(e.sum())
    rate = total / n if n else 0.0
    s1, k1 = b.sum(0), e @ b
    valid1 = (s1 >= min_support) & (s1 < n) & (k1 > 0)
    members: list[tuple[int, ...]] = [(int(j),) for j in np.nonzero(valid1)[0]]
    support, errs = [s1[valid1]], [k1[valid1]]
    chosen = set(features)
    cols = np.array([j for j in np.nonzero(valid1)[0] if basics.features[j] in chosen], dtype=np.intp)
    if max_level < 2 or cols.size < 2 or rate <= 0:
        return Candidates(members, np.concatenate(support).astype(np.int64), np.concatenate(errs).astype(np.int64))
    feat = np.array([basics.features[j] for j in cols], dtype=object)
    bj = b[:, cols]
    s2 = bj.T @ bj
    k2 = (bj * e[:, None]).T @ bj
    sc = s1[cols]
    upper = np.triu(np.ones_like(s2, dtype=bool), 1)
    ok2 = upper & (feat[:, None] != feat[None, :]) & (s2 >= min_support) & (k2 > 0)
    ok2 &= (s2 < sc[:, None]) & (s2 < sc[None, :])
    ia, ib = np.nonzero(ok2)
    members += [(int(cols[a]), int(cols[c])) for a, c in zip(ia, ib, strict=True)]
    support.append(s2[ia, ib])
    errs.append(k2[ia, ib])
    if max_level >= 3 and ia.size:
        parents_s, parents_k = s2[ia, ib], k2[ia, ib]
        scores = sliceline_score(np.concatenate(support), np.concatenate(errs), n, rate, alpha)
        threshold = max(0.0, float(np.sort(scores)[-beam])) if scores.size >= beam else 0.0
        ub = score_upper_bound(parents_s, parents_k, n, rate, alpha, min_support)
        order = np.argsort(-sliceline_score(parents_s, parents_k, n, rate, alpha), kind="stable")
        top = [i for i in order if ub[i] > threshold][:beam]
        if top:
            pa, pb = ia[top], ib[top]
            parent_rows = bj[:, pa] * bj[:, pb]
            s3 = parent_rows.T @ bj
            k3 = (parent_rows * e[:, None]).T @ bj
            ok3 = (feat[None, :] != feat[pa][:, None]) & (feat[None, :] != feat[pb][:, None])
            ok3 &= (s3 >= min_support) & (k3 > 0) & (s3 < parents_s[top][:, None]) & (s3 < sc[None, :])
            seen: set[tuple[int, ...]] = set()
            keep_p, keep_c = [], []
            for p, c in zip(*np.nonzero(ok3), strict=True):
                key = tuple(sorted((int(cols[pa[p]]), int(cols[pb[p]]), int(cols[c]))))
                if key not in seen:
                    seen.add(key)
                    members.append(key)
                    keep_p.append(p)
                    keep_c.append(c)
            support.append(s3[keep_p, keep_c])
            errs.append(k3[keep_p, keep_c])
    return Candidates(members, np.concatenate(support).astype(np.int64), np.concatenate(errs).astype(np.int64))
