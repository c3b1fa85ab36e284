"""Traffic weights: Thompson sampling's probability of being best over Beta posteriors, floored and capped.

With a temperature T, the score is softened (Boltzmann allocation): an instance whose
accuracy is d below the best scores about exp(-d / T) of the best's, so a healed instance
that is nearly as good wins traffic back instead of staying at the floor.

Each instance's accuracy has a Beta posterior (a uniform prior plus its correct and wrong
predictions). The share an instance deserves is its posterior probability of being the most
accurate, estimated by drawing from every posterior at once and counting winners. Shares are
then fitted between a floor (every live instance stays measurable) and a cap (no instance
takes everything unless it is alone).

>>> shares = probability_best([Beta.of(90, 10), Beta.of(50, 50)], draws=4000)
>>> shares[0] > 0.99
True
>>> allocate(shares, floor=0.05, cap=0.8)
[0.8, 0.2]
>>> allocate([0.98, 0.01, 0.01], floor=0.05, cap=0.9)
[0.9, 0.05, 0.05]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

_TINY = 1e-9


@dataclass(frozen=True)
class Beta:
    """A Beta(alpha, beta) posterior of an accuracy."""

    alpha: float
    beta: float

    @classmethod
    def of(cls, correct: float, wrong: float, prior: float = 1.0) -> Beta:
        """The posterior after ``correct`` and ``wrong`` outcomes from a Beta(prior, prior) prior."""
        if correct < 0 or wrong < 0:
            msg = f"counts must be >= 0, got correct={correct} wrong={wrong}"
            raise ValueError(msg)
        return cls(prior + correct, prior + wrong)

    @property
    def mean(self) -> float:
        return self.alpha / (self.alpha + self.beta)


def _draws(posteriors: Sequence[Beta], draws: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    alphas = np.array([p.alpha for p in posteriors], dtype=float)
    betas = np.array([p.beta for p in posteriors], dtype=float)
    return rng.beta(alphas, betas, size=(draws, len(posteriors)))


def probability_best(
    posteriors: Sequence[Beta], *, temperature: float = 0.0, draws: int = 20000, seed: int = 0
) -> list[float]:
    """P(each arm has the highest accuracy), by Monte Carlo (deterministic for a given ``seed``).

    With a ``temperature`` T > 0, each arm's expected ``exp((accuracy - best accuracy) / T)``
    over the same draws instead (1 for the best; these no longer sum to 1). As T goes to 0
    it becomes the probability of being best.

    >>> [round(p, 2) for p in probability_best([Beta.of(930, 70), Beta.of(965, 35)], draws=4000)]
    [0.0, 1.0]
    >>> [round(p, 1) for p in probability_best([Beta.of(930, 70), Beta.of(965, 35)], temperature=0.1, draws=4000)]
    [0.7, 1.0]
    """
    if len(posteriors) <= 1:
        return [1.0] * len(posteriors)
    samples = _draws(posteriors, draws, seed)
    if temperature > 0:
        soft = np.exp((samples - samples.max(axis=1, keepdims=True)) / temperature)
        return [float(v) for v in soft.mean(axis=0)]
    counts = np.bincount(samples.argmax(axis=1), minlength=len(posteriors))
    return [float(c) / draws for c in counts]


def probability_greater(a: Beta, b: Beta, *, margin: float = 0.0, draws: int = 20000, seed: int = 0) -> float:
    """P(accuracy of ``a`` > accuracy of ``b`` - ``margin``), by Monte Carlo.

    >>> round(probability_greater(Beta.of(80, 20), Beta.of(60, 40), draws=4000), 2)
    1.0
    >>> round(probability_greater(Beta.of(5, 5), Beta.of(5, 5), draws=4000), 1)
    0.5
    """
    samples = _draws([a, b], draws, seed)
    return float(np.mean(samples[:, 0] > samples[:, 1] - margin))


def allocate(scores: Sequence[float], *, floor: float, cap: float) -> list[float]:
    """Shares proportional to ``scores`` as far as ``floor <= share <= cap`` allows; they sum to 1.

    Finds ``lam`` with ``sum(clip(lam * score, floor, cap)) == 1`` by bisection. One arm gets
    everything. When the bounds cannot hold (``n * floor > 1`` or ``n * cap < 1``) every arm
    gets ``1 / n``.
    """
    n = len(scores)
    if n == 0:
        return []
    if n == 1:
        return [1.0]
    if n * floor >= 1 or n * cap <= 1:
        return [1.0 / n] * n
    positive = [max(float(s), 0.0) + _TINY for s in scores]

    def total(lam: float) -> float:
        return sum(min(max(lam * s, floor), cap) for s in positive)

    low, high = 0.0, cap / min(positive)
    for _ in range(200):
        mid = (low + high) / 2
        if total(mid) < 1:
            low = mid
        else:
            high = mid
    shares = [min(max(high * s, floor), cap) for s in positive]
    excess = sum(shares) - 1
    # Bisection leaves ~1e-15 of excess: take it from the arms strictly inside the bounds.
    inside = [i for i, w in enumerate(shares) if floor < w < cap] or list(range(n))
    for i in inside:
        shares[i] -= excess / len(inside)
    return [round(w, 12) for w in shares]
