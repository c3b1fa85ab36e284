"""Classification metrics computed on read from additive confusion counts.

Definitions match scikit-learn's (``accuracy_score`` and ``precision_recall_fscore_support`` with
``zero_division=0``, labels = every label seen as truth or prediction, macro = unweighted mean).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

Counts = Mapping[tuple[str, str], int]  # (true label, predicted label) -> count


@dataclass(frozen=True)
class ClassMetrics:
    label: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class Metrics:
    total: int
    accuracy: float
    macro_precision: float
    macro_recall: float
    macro_f1: float
    per_class: tuple[ClassMetrics, ...]


def compute(counts: Counts) -> Metrics:
    """Metrics of a confusion matrix.

    >>> m = compute({("a", "a"): 3, ("a", "b"): 1, ("b", "b"): 2})
    >>> m.accuracy, round(m.macro_f1, 4)
    (0.8333333333333334, 0.8286)
    """
    labels = sorted({t for t, _ in counts} | {p for _, p in counts})
    total = sum(counts.values())
    correct = sum(n for (t, p), n in counts.items() if t == p)
    per_class = []
    for label in labels:
        tp = counts.get((label, label), 0)
        predicted = sum(n for (_, p), n in counts.items() if p == label)
        actual = sum(n for (t, _), n in counts.items() if t == label)
        fp, fn = predicted - tp, actual - tp
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual if actual else 0.0
        f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
        per_class.append(ClassMetrics(label, precision, recall, f1, actual))
    n = len(labels) or 1
    return Metrics(
        total=total,
        accuracy=correct / total if total else 0.0,
        macro_precision=sum(c.precision for c in per_class) / n,
        macro_recall=sum(c.recall for c in per_class) / n,
        macro_f1=sum(c.f1 for c in per_class) / n,
        per_class=tuple(per_class),
    )
