"""Slice search: where one instance is wrong more than it should be.

``find_slices`` is a greedy, residual SliceLine:

1. enumerate basic slices and conjunctions of 2 and 3 conditions (``lattice``) on the rows not
   yet explained by a reported slice, over the top-ranked features (SHAP attribution when given,
   always joined by the two features whose best single slice scores highest);
2. score them like SliceLine: ``alpha * (error / base error - 1) - (1 - alpha) * (n / support - 1)``;
3. statistical guard: minimum support; a one-sided exact binomial test of "slice error > base
   error" per slice; Benjamini-Hochberg at ``fdr`` across *every* slice tested in that search.
   The best-scoring discovery with a positive score is kept;
4. sharpen it (``refine``): re-fit each condition's bounds by a scan statistic, drop conditions
   that do not matter, round edges; the refined predicate must pass the same BH cutoff, else the
   unrefined one is reported;
5. remove its rows and search again, comparing with the error rate of the remaining rows, until
   nothing is significant or ``max_slices`` are found. A slice that merely overlaps a reported
   one (a superset of the same errors) is not significant on the residual rows; one found on
   the residual rows whose predicate still covers mostly reported rows (refinement on residual
   rows can stretch over the hole a reported slice left) is dropped as a duplicate.

Continuous re-testing: profiles are rebuilt every few hundred events on overlapping windows, so
the same hypotheses are tested again and again. Alpha-spending would drive the level to zero on
an unbounded stream; instead each build uses a strict level (``fdr = 0.01``, BH within a build,
so under "no weak slice" a build reports nothing with probability >= 99 %) and a change is only
published after the slice is significant in several consecutive builds (``changes``,
hysteresis). Builds on overlapping windows are positively correlated, so consecutive
significance is weaker evidence than independent replications would be: the guard against
flapping is the hysteresis, not a per-build error rate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from schemas.slices import Slice
from streams.profiling.lattice import Basics, basic_slices, enumerate_slices, sliceline_score
from streams.profiling.refine import refine
from streams.profiling.stats import bh_cutoff, binom_greater, wilson
from streams.profiling.window import Frame


@dataclass(frozen=True)
class SliceConfig:
    """Hyperparameters of the slice search."""

    bins: int = 8  # quantile bins per numeric feature
    max_values: int = 20  # most frequent values per categorical feature
    min_support: int = 20  # labelled events a slice needs
    min_events: int = 100  # rows needed to search at all
    max_level: int = 3  # conditions per conjunction
    max_features: int = 5  # features that conjunctions combine
    beam: int = 32  # level-2 slices extended to level 3
    alpha: float = 0.95  # SliceLine's weight of error lift against size
    fdr: float = 0.01  # Benjamini-Hochberg level within one build
    max_slices: int = 10
    refine_edges: int = 64
    refine_level: float = 0.01  # before the correction for the intervals scanned
    refine: bool = True
    duplicate: float = 0.5  # share of a slice's rows inside earlier slices that makes it a duplicate


@dataclass(frozen=True)
class FoundSlice:
    """A significant slice; counts and interval on the instance's whole window."""

    predicate: Slice
    support: int
    errors: int
    error: float
    error_low: float
    error_high: float
    lift: float  # error / the window's overall error
    score: float  # SliceLine score on the whole window
    p_value: float  # binomial p-value where it was found (rows not explained by earlier slices)


def find_slices(
    frame: Frame, *, ranking: Mapping[str, float] | None = None, config: SliceConfig | None = None
) -> list[FoundSlice]:
    """Significant slices of ``frame``, best first (see the module docstring).

    >>> rng = np.random.default_rng(1)
    >>> x = rng.uniform(0, 10, 1000)
    >>> wrong = rng.random(1000) < np.where(x >= 7, 0.6, 0.05)
    >>> frame = Frame({"x": x}, {}, np.array(["a"] * 1000, dtype=object), np.array(["a"] * 1000, dtype=object),
    ...               ~wrong, np.zeros(1000, dtype=np.int64))
    >>> [s.predicate.describe() for s in find_slices(frame)]
    ['x >= 7.02']
    """
    cfg = config or SliceConfig()
    errors = frame.errors
    n_all = len(frame)
    if n_all < cfg.min_events or not errors.any() or errors.all():
        return []
    basics = basic_slices(frame, bins=cfg.bins, max_values=cfg.max_values, min_support=cfg.min_support)
    features = _features(basics, errors, ranking, cfg)
    overall = float(errors.mean())
    rows = np.ones(n_all, dtype=bool)
    covered = np.zeros(n_all, dtype=bool)
    found: list[FoundSlice] = []
    for _ in range(2 * cfg.max_slices):
        if len(found) >= cfg.max_slices:
            break
        step = _search(basics, frame, rows, features, cfg)
        if step is None:
            break
        predicate, p_value = step
        inside = predicate.mask(frame)
        rows &= ~inside
        support, k = int(inside.sum()), int(errors[inside].sum())
        if support == 0 or np.count_nonzero(inside & covered) >= cfg.duplicate * support:
            continue  # mostly rows of slices already reported: the same region again
        covered |= inside
        low, high = wilson(k, support)
        found.append(
            FoundSlice(
                predicate=predicate,
                support=support,
                errors=k,
                error=k / support,
                error_low=float(low),
                error_high=float(high),
                lift=(k / support) / overall,
                score=float(sliceline_score(np.array(support), np.array(k), n_all, overall, cfg.alpha)),
                p_value=p_value,
            )
        )
    return found


def _search(
    basics: Basics, frame: Frame, rows: np.ndarray, features: list[str], cfg: SliceConfig
) -> tuple[Slice, float] | None:
    """The best significant slice on ``rows``, refined, with its p-value; None if there is none."""
    errors = frame.errors
    n = int(rows.sum())
    k = int(errors[rows].sum())
    if n < cfg.min_events or k == 0 or k == n:
        return None
    rate = k / n
    cands = enumerate_slices(
        basics,
        errors,
        rows,
        features=features,
        max_level=cfg.max_level,
        beam=cfg.beam,
        min_support=cfg.min_support,
        alpha=cfg.alpha,
    )
    if not cands.members:
        return None
    p = binom_greater(cands.errors, cands.support, rate)
    cutoff = bh_cutoff(p, cfg.fdr)
    scores = sliceline_score(cands.support, cands.errors, n, rate, cfg.alpha)
    ok = (p <= cutoff) & (scores > 0)
    if not ok.any():
        return None
    best = int(np.argmax(np.where(ok, scores, -np.inf)))
    predicate = Slice.of(basics.conditions[j] for j in cands.members[best])
    p_best = float(p[best])
    if cfg.refine:
        refined = refine(
            predicate,
            frame,
            rows,
            edges=cfg.refine_edges,
            level=cfg.refine_level,
            min_support=cfg.min_support,
        )
        inside = refined.mask(frame) & rows
        s, e = int(inside.sum()), int(errors[inside].sum())
        if s >= cfg.min_support:
            p_refined = float(binom_greater(e, s, rate))
            if p_refined <= cutoff and float(sliceline_score(np.array(s), np.array(e), n, rate, cfg.alpha)) > 0:
                return refined, p_refined
    return predicate, p_best


def _features(basics: Basics, errors: np.ndarray, ranking: Mapping[str, float] | None, cfg: SliceConfig) -> list[str]:
    """Features that conjunctions combine: by attribution, joined by the two best single-slice features."""
    n, k = basics.matrix.shape[0], float(errors.sum())
    support = basics.matrix.sum(0)
    errs = errors.astype(np.float32) @ basics.matrix
    score = sliceline_score(support, errs, n, k / n, cfg.alpha)
    best: dict[str, float] = {}
    for feature, value in zip(basics.features, score, strict=True):
        best[feature] = max(best.get(feature, -np.inf), float(value))
    by_score = sorted(best, key=lambda f: -best[f])
    if not ranking:
        return by_score[: cfg.max_features]
    attributed = [f for f in sorted(ranking, key=lambda f: -ranking[f]) if f in best and ranking[f] > 0]
    chosen = list(dict.fromkeys([*by_score[:2], *attributed, *by_score]))
    return chosen[: cfg.max_features]
