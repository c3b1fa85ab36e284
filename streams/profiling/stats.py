"""The statistics behind the profiler's guards: intervals, one-sided tests, false-discovery control.

All functions accept numpy arrays (vectorised) or scalars.
"""

from __future__ import annotations

import numpy as np
from scipy import special, stats

Z95 = float(stats.norm.ppf(0.975))


def wilson(errors: np.ndarray | int, n: np.ndarray | int, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a proportion (95 % by default); ``(0, 1)`` where ``n == 0``.

    >>> low, high = wilson(20, 100)
    >>> round(float(low), 4), round(float(high), 4)
    (0.1334, 0.2888)
    """
    k = np.asarray(errors, dtype=np.float64)
    m = np.asarray(n, dtype=np.float64)
    safe = np.maximum(m, 1.0)
    p = k / safe
    denom = 1 + z * z / safe
    centre = (p + z * z / (2 * safe)) / denom
    half = z * np.sqrt(p * (1 - p) / safe + z * z / (4 * safe * safe)) / denom
    low = np.where(m > 0, np.clip(centre - half, 0.0, 1.0), 0.0)
    high = np.where(m > 0, np.clip(centre + half, 0.0, 1.0), 1.0)
    return low, high


def binom_greater(errors: np.ndarray | int, n: np.ndarray | int, rate: float) -> np.ndarray:
    """One-sided exact binomial p-value of H1 "error rate > ``rate``": P[X >= errors | n, rate].

    >>> round(float(binom_greater(9, 20, 0.2)), 4)
    0.01
    """
    p0 = float(np.clip(rate, 1e-12, 1 - 1e-12))
    return np.asarray(stats.binom.sf(np.asarray(errors) - 1, np.asarray(n), p0), dtype=np.float64)


def two_proportions_greater(k1: np.ndarray | int, n1: np.ndarray | int, k2: np.ndarray | int, n2: np.ndarray | int):
    """One-sided p-value of H1 "rate 1 > rate 2" (pooled two-proportion z-test, vectorised).

    Used where exact tests would be called thousands of times per build; 1 where a side is empty.

    >>> round(float(two_proportions_greater(30, 50, 10, 50)), 6)
    2.2e-05
    """
    k1, n1, k2, n2 = (np.asarray(v, dtype=np.float64) for v in (k1, n1, k2, n2))
    ok = (n1 > 0) & (n2 > 0)
    n1s, n2s = np.maximum(n1, 1), np.maximum(n2, 1)
    pooled = (k1 + k2) / (n1s + n2s)
    se = np.sqrt(np.maximum(pooled * (1 - pooled) * (1 / n1s + 1 / n2s), 1e-300))
    z = (k1 / n1s - k2 / n2s) / se
    return np.where(ok & (pooled > 0) & (pooled < 1), special.ndtr(-z), 1.0)


def fisher_greater(k1: int, n1: int, k2: int, n2: int) -> float:
    """Exact one-sided p-value (Fisher) of H1 "error rate of group 1 > group 2"; 1 if a group is empty.

    >>> round(fisher_greater(30, 50, 10, 50), 6)
    4.2e-05
    """
    if n1 <= 0 or n2 <= 0:
        return 1.0
    table = [[k1, n1 - k1], [k2, n2 - k2]]
    return float(stats.fisher_exact(table, alternative="greater").pvalue)


def bh_cutoff(p_values: np.ndarray, q: float) -> float:
    """Benjamini-Hochberg: the largest p-value rejected at false-discovery rate ``q`` (-1 if none).

    Reject every hypothesis with ``p <= cutoff``.

    >>> bh_cutoff(np.array([0.001, 0.008, 0.039, 0.041, 0.6]), 0.05)
    0.008
    >>> bh_cutoff(np.array([0.5, 0.9]), 0.05)
    -1.0
    """
    p = np.sort(np.asarray(p_values, dtype=np.float64))
    if p.size == 0:
        return -1.0
    below = np.nonzero(p <= q * np.arange(1, p.size + 1) / p.size)[0]
    return float(p[below[-1]]) if below.size else -1.0


def bernoulli_llr(k_in: np.ndarray, n_in: np.ndarray, k_out: np.ndarray, n_out: np.ndarray) -> np.ndarray:
    """Log-likelihood ratio of "rate differs inside vs outside" against "one rate" (Kulldorff's scan)."""

    def loglik(k: np.ndarray, n: np.ndarray) -> np.ndarray:
        safe = np.maximum(n, 1)
        p = k / safe
        return special.xlogy(k, p) + special.xlogy(n - k, 1 - p)

    return loglik(k_in, n_in) + loglik(k_out, n_out) - loglik(k_in + k_out, n_in + n_out)
