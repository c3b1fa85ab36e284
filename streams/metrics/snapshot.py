"""``metrics.snapshots`` records from window counts."""

from __future__ import annotations

from typing import Any

from streams.metrics.aggregate import WindowCounts
from streams.metrics.confusion import compute


def snapshot_record(instance_id: str, route: str, version: int, window: WindowCounts, now_ms: int) -> dict[str, Any]:
    metrics = compute(window.counts)
    return {
        "instance_id": instance_id,
        "route": route,
        "model_version": version,
        "window": window.window,
        "window_start": window.start_ms,
        "snapshot_ts": now_ms,
        "labelled": window.labelled,
        "unlabelled": window.unlabelled,
        "label_coverage": window.coverage,
        "accuracy": metrics.accuracy,
        "macro_precision": metrics.macro_precision,
        "macro_recall": metrics.macro_recall,
        "macro_f1": metrics.macro_f1,
        "per_class": [
            {"label": c.label, "precision": c.precision, "recall": c.recall, "f1": c.f1, "support": c.support}
            for c in metrics.per_class
        ],
        "confusion": [
            {"label": label, "predicted": predicted, "count": n}
            for (label, predicted), n in sorted(window.counts.items())
        ],
    }
