"""What the misclassified inputs look like: per-feature distributions and the main confusion pairs."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from streams.profiling.window import Frame


def error_distribution(frame: Frame) -> list[dict[str, Any]]:
    """``FeatureSummary`` records of each numeric feature over the misclassified rows.

    Missing values are ignored; a feature no misclassified row has is left out.

    >>> x = np.array([1.0, 2.0, 3.0, 4.0, np.nan])
    >>> frame = Frame({"x": x}, {}, np.array(list("aaaaa"), dtype=object), np.array(list("abbba"), dtype=object),
    ...               np.array([True, False, False, False, False]), np.zeros(5, dtype=np.int64))
    >>> s = error_distribution(frame)[0]
    >>> s["feature"], s["mean"], s["min"], s["median"], s["max"]
    ('x', 3.0, 2.0, 3.0, 4.0)
    """
    wrong = frame.errors
    summaries = []
    for name, column in frame.numeric.items():
        x = column[wrong]
        x = x[np.isfinite(x)]
        if x.size == 0:
            continue
        q25, median, q75 = np.quantile(x, [0.25, 0.5, 0.75])
        summaries.append(
            {
                "feature": name,
                "mean": float(x.mean()),
                "std": float(x.std()),
                "min": float(x.min()),
                "q25": float(q25),
                "median": float(median),
                "q75": float(q75),
                "max": float(x.max()),
            }
        )
    return summaries


def confusion_pairs(frame: Frame, top: int = 10) -> list[dict[str, Any]]:
    """The ``top`` most frequent (true label, predicted label) pairs among the errors.

    >>> frame = Frame({}, {}, np.array(list("aaab"), dtype=object), np.array(list("bbaa"), dtype=object),
    ...               np.array([False, False, True, False]), np.zeros(4, dtype=np.int64))
    >>> confusion_pairs(frame)
    [{'label': 'a', 'predicted': 'b', 'count': 2}, {'label': 'b', 'predicted': 'a', 'count': 1}]
    """
    wrong = frame.errors
    counts = Counter(zip(frame.labels[wrong].tolist(), frame.predictions[wrong].tolist(), strict=True))
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:top]
    return [{"label": str(t), "predicted": str(p), "count": int(n)} for (t, p), n in ranked]
