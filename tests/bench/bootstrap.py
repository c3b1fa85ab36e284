"""A paired two-level bootstrap for benchmarks that score several strategies over seeds on shared held-out rows.

Each replicate resamples the seeds (with replacement) and, independently, the held-out
rows (with replacement, the same draw for every seed and every strategy). Every
statistic taken from one ``PairedBootstrap`` uses the same replicates, so differences
and ratios of statistics are paired: the noise the strategies share cancels. Intervals
are percentile intervals of the replicates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CHUNK = 256  # replicates weighted at once (bounds the memory of one ``mean``)


@dataclass(frozen=True)
class Estimate:
    """A statistic on the data as observed and its bootstrap replicates; arithmetic keeps them paired.

    >>> a = Estimate(2.0, np.array([1.0, 2.0, 3.0]))
    >>> b = Estimate(1.0, np.array([1.0, 1.0, 1.0]))
    >>> (a - b).value, (a / b).replicates.tolist(), (100 * b).value
    (1.0, [1.0, 2.0, 3.0], 100.0)
    """

    value: float
    replicates: np.ndarray

    def interval(self, confidence: float = 0.95) -> tuple[float, float]:
        """The percentile interval of the replicates (non-finite replicates, from a zero denominator, dropped)."""
        finite = self.replicates[np.isfinite(self.replicates)]
        if not len(finite):
            return float("nan"), float("nan")
        tail = 50 * (1 - confidence)
        low, high = np.percentile(finite, [tail, 100 - tail])
        return float(low), float(high)

    def __sub__(self, other: Estimate) -> Estimate:
        return Estimate(self.value - other.value, self.replicates - other.replicates)

    def __truediv__(self, other: Estimate) -> Estimate:
        with np.errstate(divide="ignore", invalid="ignore"):
            return Estimate(_divide(self.value, other.value), self.replicates / other.replicates)

    def __rmul__(self, factor: float) -> Estimate:
        return Estimate(factor * self.value, factor * self.replicates)


class PairedBootstrap:
    """Replicate weights for ``seeds`` x ``rows`` results; ``mean`` and ``seed_mean`` turn results into estimates.

    >>> boot = PairedBootstrap(seeds=2, rows=4, replicates=500, seed=0)
    >>> correct = np.array([[1, 1, 0, 0], [1, 0, 0, 0]], dtype=float)
    >>> est = boot.mean(correct, where=np.array([True, True, True, False]))
    >>> round(est.value, 3), est.replicates.shape
    (0.5, (500,))
    """

    def __init__(self, seeds: int, rows: int, *, replicates: int = 2000, seed: int = 0) -> None:
        if seeds < 1 or rows < 1 or replicates < 1:
            msg = f"seeds, rows and replicates must be >= 1, got {seeds}, {rows}, {replicates}"
            raise ValueError(msg)
        rng = np.random.default_rng(seed)
        self.seeds, self.rows = seeds, rows
        # multinomial counts: how often each seed / row appears in each replicate
        self.seed_weights = rng.multinomial(seeds, np.full(seeds, 1 / seeds), size=replicates) / seeds
        self.row_counts = np.stack(
            [np.bincount(rng.integers(0, rows, size=rows), minlength=rows).astype(np.uint8) for _ in range(replicates)]
        )

    def mean(self, values: np.ndarray, where: np.ndarray | None = None) -> Estimate:
        """Mean over seeds of the per-seed mean of ``values`` (seeds, rows) over the rows ``where`` (default all)."""
        values = np.asarray(values, dtype=np.float64).reshape(self.seeds, self.rows)
        mask = np.ones(self.rows, dtype=bool) if where is None else np.asarray(where, dtype=bool)
        observed = float(values[:, mask].mean()) if mask.any() else float("nan")
        chosen = values[:, mask]
        per_seed = np.empty((self.seeds, len(self.row_counts)))  # per-seed means, one column per replicate
        for start in range(0, len(self.row_counts), CHUNK):
            counts = self.row_counts[start : start + CHUNK, mask].astype(np.float64)
            with np.errstate(divide="ignore", invalid="ignore"):
                per_seed[:, start : start + CHUNK] = (chosen @ counts.T) / counts.sum(axis=1)
        return Estimate(observed, np.einsum("rs,sr->r", self.seed_weights, per_seed))

    def seed_mean(self, values: np.ndarray) -> Estimate:
        """Mean over seeds of one number per seed (a cost, a pass/fail), resampling the seeds only."""
        values = np.asarray(values, dtype=np.float64).reshape(self.seeds)
        return Estimate(float(values.mean()), self.seed_weights @ values)


def _divide(a: float, b: float) -> float:
    return a / b if b != 0 else float("nan")
