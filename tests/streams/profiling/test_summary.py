"""Error distributions equal numpy's statistics; confusion pairs count only errors."""

from __future__ import annotations

import numpy as np
import pytest

from streams.profiling.summary import confusion_pairs, error_distribution
from streams.profiling.window import Frame


def test_error_distribution_matches_numpy_over_errors():
    rng = np.random.default_rng(0)
    n = 500
    x = rng.normal(size=n)
    x[:10] = np.nan
    y = np.full(n, np.nan)
    wrong = rng.random(n) < 0.3
    labels = np.array(["a"] * n, dtype=object)
    frame = Frame({"x": x, "y": y}, {}, labels, labels, ~wrong, np.zeros(n, np.int64))
    (summary,) = error_distribution(frame)  # y has no value among errors: left out
    ref = x[wrong & ~np.isnan(x)]
    assert summary["feature"] == "x"
    assert summary["mean"] == pytest.approx(ref.mean()) and summary["std"] == pytest.approx(ref.std())
    assert (summary["min"], summary["max"]) == (ref.min(), ref.max())
    assert [summary["q25"], summary["median"], summary["q75"]] == pytest.approx(np.quantile(ref, [0.25, 0.5, 0.75]))


def test_confusion_pairs_top_and_order():
    labels = np.array(list("aaabbbcc"), dtype=object)
    predictions = np.array(list("bbacccca"), dtype=object)
    frame = Frame({}, {}, labels, predictions, labels == predictions, np.zeros(8, np.int64))
    pairs = confusion_pairs(frame, top=2)
    assert pairs == [{"label": "b", "predicted": "c", "count": 3}, {"label": "a", "predicted": "b", "count": 2}]
    assert error_distribution(frame) == []
