"""The quality guard: do synthetic rows resemble real rows of the same slice?

Three measures, reported with every batch: the share of synthetic numeric values
outside the per-feature ranges of the real rows (``range_violations``), the largest
two-sample Kolmogorov-Smirnov statistic over numeric features (``ks_max``), and the
held-out AUC of a small discriminator trained to tell synthetic from real rows
(``discriminator_auc``: 0.5 means indistinguishable). A batch passes when the AUC and
the range violations stay under their limits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

MIN_REFERENCE = 20
"""Fewer real rows than this and only the ranges are checked."""


@dataclass(frozen=True)
class QualityReport:
    scores: dict[str, float]
    passed: bool
    problems: list[str] = field(default_factory=list)


def auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney, ties counted half).

    >>> auc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([False, False, True, True]))
    0.75
    """
    pos, neg = scores[positive], scores[~positive]
    if len(pos) == 0 or len(neg) == 0:
        return 0.5
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(greater / (len(pos) * len(neg)))


def ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic.

    >>> ks_statistic(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0]))
    0.0
    """
    grid = np.sort(np.concatenate([a, b]))
    cdf_a = np.searchsorted(np.sort(a), grid, side="right") / len(a)
    cdf_b = np.searchsorted(np.sort(b), grid, side="right") / len(b)
    return float(np.abs(cdf_a - cdf_b).max())


def discriminator_auc(synthetic: np.ndarray, real: np.ndarray, *, seed: int = 0, steps: int = 150) -> float:
    """Held-out AUC (2-fold cross-fitting) of a small MLP separating synthetic from real encoded rows."""
    rng = np.random.default_rng(seed)
    n = min(len(synthetic), len(real))
    x = np.concatenate([synthetic[rng.permutation(len(synthetic))[:n]], real[rng.permutation(len(real))[:n]]])
    y = np.concatenate([np.ones(n), np.zeros(n)]).astype(bool)
    fold = rng.permutation(2 * n) % 2
    scores = np.zeros(2 * n)
    generator = torch.Generator().manual_seed(seed)
    for k in (0, 1):
        train, test = fold != k, fold == k
        xt = torch.as_tensor(x[train], dtype=torch.float32)
        yt = torch.as_tensor(y[train], dtype=torch.float32)
        model = nn.Sequential(nn.Linear(x.shape[1], 32), nn.ReLU(), nn.Linear(32, 1))
        for p in model.parameters():
            nn.init.normal_(p, std=0.1, generator=generator)
        optimiser = torch.optim.Adam(model.parameters(), lr=1e-2, weight_decay=1e-3)
        for _ in range(steps):
            optimiser.zero_grad()
            nn.functional.binary_cross_entropy_with_logits(model(xt)[:, 0], yt).backward()
            optimiser.step()
        with torch.no_grad():
            scores[test] = model(torch.as_tensor(x[test], dtype=torch.float32))[:, 0].numpy()
    return auc(scores, y)


def range_violations(synthetic: np.ndarray, real: np.ndarray, tolerance: float = 0.01) -> np.ndarray:
    """Per numeric column, the share of synthetic values outside the real range widened by ``tolerance``."""
    low, high = real.min(axis=0), real.max(axis=0)
    slack = tolerance * (high - low)
    outside = (synthetic < low - slack) | (synthetic > high + slack)
    return np.asarray(outside.mean(axis=0), dtype=np.float64)


def guard(
    synthetic_x: np.ndarray,
    real_x: np.ndarray,
    synthetic_numeric: np.ndarray,
    real_numeric: np.ndarray,
    numeric_names: list[str],
    *,
    max_auc: float,
    max_range_violations: float,
    seed: int = 0,
) -> QualityReport:
    """Compare a batch with real rows of its slice.

    ``*_x`` are the generator's encodings (numeric standardised, categorical one-hot);
    ``*_numeric`` the raw numeric values, columns in ``numeric_names`` order.
    """
    scores: dict[str, float] = {"synthetic_rows": float(len(synthetic_x)), "reference_rows": float(len(real_x))}
    problems: list[str] = []
    if len(synthetic_x) == 0:
        return QualityReport(scores, False, ["no synthetic rows"])
    if len(real_x) == 0:
        return QualityReport(scores, True, [])
    if numeric_names:
        per_feature = range_violations(synthetic_numeric, real_numeric)
        scores["range_violations"] = float(per_feature.mean())
        for name, share in zip(numeric_names, per_feature, strict=True):
            scores[f"range_violations.{name}"] = float(share)
        if scores["range_violations"] > max_range_violations:
            problems.append(f"range violations {scores['range_violations']:.3f} > {max_range_violations}")
    if len(real_x) >= MIN_REFERENCE:
        if numeric_names:
            scores["ks_max"] = max(
                ks_statistic(synthetic_numeric[:, j], real_numeric[:, j]) for j in range(len(numeric_names))
            )
        scores["discriminator_auc"] = discriminator_auc(synthetic_x, real_x, seed=seed)
        if scores["discriminator_auc"] > max_auc:
            problems.append(f"discriminator AUC {scores['discriminator_auc']:.3f} > {max_auc}")
    return QualityReport(scores, not problems, problems)
