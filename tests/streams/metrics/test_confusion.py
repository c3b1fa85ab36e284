"""Metrics from confusion counts equal scikit-learn's."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from sklearn.metrics import accuracy_score, precision_recall_fscore_support

from streams.metrics.confusion import compute


@pytest.mark.parametrize("seed", range(8))
def test_metrics_equal_scikit_learn(seed):
    rng = random.Random(seed)
    classes = ["a", "b", "c", "d"][: rng.randint(2, 4)]
    y_true = [rng.choice(classes) for _ in range(rng.randint(1, 300))]
    # Some predictions name a class never seen as truth, some classes are never predicted.
    y_pred = [t if rng.random() < 0.7 else rng.choice([*classes[:-1], "zz"]) for t in y_true]
    metrics = compute(Counter(zip(y_true, y_pred, strict=True)))
    labels = sorted(set(y_true) | set(y_pred))
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    mp, mr, mf, _ = precision_recall_fscore_support(y_true, y_pred, labels=labels, average="macro", zero_division=0)
    assert metrics.accuracy == pytest.approx(accuracy_score(y_true, y_pred), abs=1e-12)
    assert (metrics.macro_precision, metrics.macro_recall, metrics.macro_f1) == pytest.approx((mp, mr, mf), abs=1e-12)
    assert [c.label for c in metrics.per_class] == labels
    assert [c.precision for c in metrics.per_class] == pytest.approx(list(p), abs=1e-12)
    assert [c.recall for c in metrics.per_class] == pytest.approx(list(r), abs=1e-12)
    assert [c.f1 for c in metrics.per_class] == pytest.approx(list(f), abs=1e-12)
    assert [c.support for c in metrics.per_class] == list(s)


def test_empty_counts_give_zeros():
    metrics = compute({})
    assert metrics.total == 0 and metrics.accuracy == 0.0 and metrics.per_class == ()
