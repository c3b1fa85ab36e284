"""Where the generator samples: inside a weak slice, around misclassified rows, at named control levels.

``in_slice`` samples the prior and keeps rows inside the slice (the acceptance rate is
reported). When too few land inside it falls back to the latent neighbourhoods of real
in-slice rows, and, as a last resort, projects the nearest samples into the slice
(numeric values clipped into the ranges, categorical values set), counting them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from schemas.slices import Slice
from workers.generator.codec import Row
from workers.generator.model import Sample, TabularGenerator

FALLBACK_NONE, FALLBACK_ANCHORS, FALLBACK_PROJECTION = 0, 1, 2

Membership = Callable[[Sequence[Row]], np.ndarray]
"""Which rows lie inside the target (a slice predicate, evaluated with any control properties)."""


@dataclass(frozen=True)
class Anchors:
    """Real rows to sample around: their class indices and raw control values."""

    rows: list[Row]
    labels: np.ndarray
    controls: np.ndarray

    def __len__(self) -> int:
        return len(self.rows)


@dataclass(frozen=True)
class SliceReport:
    sampled: int
    accepted: int
    projected: int
    fallback: int  # FALLBACK_*

    @property
    def acceptance_rate(self) -> float:
        return self.accepted / self.sampled if self.sampled else 0.0


def around(gen: TabularGenerator, anchors: Anchors, n: int, *, scale: float, rng: np.random.Generator) -> Sample:
    """``n`` rows from the latent neighbourhoods of ``anchors`` (``z ~ N(mu, (scale * sd)^2)``), same class."""
    if n <= 0 or not len(anchors):
        return Sample.concat([], len(gen.codec.controls), gen.codec.width)
    mu, sd = gen.posterior(anchors.rows, anchors.labels, anchors.controls)
    pick = rng.integers(0, len(anchors), size=n)
    z = mu[pick] + scale * sd[pick] * rng.standard_normal((n, mu.shape[1]))
    return gen.sample(anchors.labels[pick], anchors.controls[pick], z=z, seed=int(rng.integers(2**31)))


def from_prior(
    gen: TabularGenerator, n: int, label_probs: np.ndarray, controls: np.ndarray, rng: np.random.Generator
) -> Sample:
    """``n`` prior samples, classes drawn from ``label_probs``, controls resampled from ``controls`` rows."""
    labels = rng.choice(len(label_probs), size=n, p=label_probs)
    chosen = controls[rng.integers(0, len(controls), size=n)] if len(controls) else None
    return gen.sample(labels, chosen, seed=int(rng.integers(2**31)))


def in_slice(
    gen: TabularGenerator,
    inside: Membership,
    n: int,
    *,
    label_probs: np.ndarray,
    anchors: Anchors,
    budget: int,
    min_acceptance: float,
    scale: float,
    rng: np.random.Generator,
    projection: Slice | None = None,
) -> tuple[Sample, SliceReport]:
    """``n`` rows ``inside``; at most ``budget * n`` samples are drawn, then the rest is projected.

    ``projection`` holds the conditions on the generator's own features (a condition on a
    control property cannot be projected); without it nothing is projected.
    """
    kept: list[Sample] = []
    sampled = accepted = 0
    fallback = FALLBACK_NONE
    limit = max(n, budget * n)
    round_size = max(64, 2 * n)
    last: Sample | None = None
    while accepted < n and sampled < limit:
        size = min(round_size, limit - sampled)
        if fallback == FALLBACK_NONE:
            batch = from_prior(gen, size, label_probs, anchors.controls, rng)
        else:
            batch = around(gen, anchors, size, scale=scale, rng=rng)
        mask = inside(batch.rows)
        sampled += len(batch)
        accepted += int(mask.sum())
        kept.append(batch.take(mask))
        last = batch.take(~mask)
        if fallback == FALLBACK_NONE and accepted / sampled < min_acceptance and len(anchors):
            fallback = FALLBACK_ANCHORS
    result = Sample.concat(kept, len(gen.codec.controls), gen.codec.width)
    projected = 0
    if len(result) < n and last is not None and len(last) and projection is not None:
        need = min(n - len(result), len(last))
        moved = project(gen, projection, last.take(np.arange(len(last)) < need))
        moved = moved.take(inside(moved.rows))
        projected = len(moved)
        result = Sample.concat([result, moved], len(gen.codec.controls), gen.codec.width)
        fallback = FALLBACK_PROJECTION
    if len(result) > n:
        result = result.take(np.arange(len(result)) < n)
    return result, SliceReport(sampled, accepted, projected, fallback)


def project(gen: TabularGenerator, predicate: Slice, sample: Sample) -> Sample:
    """The rows moved into ``predicate``: numeric values clipped into its ranges, required values set."""
    numeric = {c.name: c for c in gen.codec.numeric}
    rows: list[Row] = []
    for features, attributes in sample.rows:
        f, a = dict(features), dict(attributes)
        for cond in predicate.conditions:
            if cond.value is not None:
                if cond.feature in numeric:
                    f[cond.feature] = float(cond.value)
                else:
                    a[cond.feature] = cond.value
                continue
            if cond.feature not in f:
                continue
            col = numeric.get(cond.feature)
            whole = col is not None and col.integral
            low = -math.inf if cond.low is None else (math.ceil(cond.low) if whole else cond.low)
            if cond.high is None:
                high = math.inf
            else:
                high = math.ceil(cond.high) - 1 if whole else math.nextafter(cond.high, -math.inf)
            f[cond.feature] = float(min(max(f[cond.feature], low), high))
        rows.append((f, a))
    inside = predicate.mask(rows)
    index = np.flatnonzero(inside)
    chosen = [rows[i] for i in index]
    return Sample(chosen, sample.labels[index], sample.controls[index], gen.codec.encode(chosen))


def at_levels(
    gen: TabularGenerator,
    levels: Sequence[tuple[float, float]],
    n: int,
    *,
    label_probs: np.ndarray,
    inside: Membership | None,
    rng: np.random.Generator,
) -> Sample:
    """``n`` rows with each control drawn uniformly from its ``(low, high)`` level (and ``inside``, if given)."""
    if n <= 0 or not levels:
        return Sample.concat([], len(gen.codec.controls), gen.codec.width)
    kept: list[Sample] = []
    total = tries = 0
    while total < n and tries < 20:
        size = max(64, 2 * (n - total))
        controls = np.column_stack([rng.uniform(low, high, size) for low, high in levels])
        labels = rng.choice(len(label_probs), size=size, p=label_probs)
        batch = gen.sample(labels, controls, seed=int(rng.integers(2**31)))
        if inside is not None:
            batch = batch.take(inside(batch.rows))
        kept.append(batch)
        total += len(batch)
        tries += 1
    result = Sample.concat(kept, len(gen.codec.controls), gen.codec.width)
    return result.take(np.arange(len(result)) < n)
