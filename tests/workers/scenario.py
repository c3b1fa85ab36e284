"""The Agrawal scenario of the done-when tests: one instance barely saw a region of the input space.

river's Agrawal generator (classification function 1, river's second) labels a row by
salary bands that depend on the age band. Instance ``agrawal-a`` learned from rows with
``age < 60`` and only a handful above; instance ``agrawal-b`` learned from everything.
So ``a`` errs on ``age >= 60`` while ``b`` is strong there, and the rule itself is a
label function registered for the route.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import torch

from infra.app.loop import instances
from infra.app.scenarios import agrawal
from infra.registry.family import ModelFamily
from schemas.slices import Slice
from workers.models import TabularMLP

ROUTE = "agrawal"
LABELS = ("no", "yes")
NUMERIC = ("salary", "commission", "age", "car", "hvalue", "hyears", "loan")
CATEGORICAL = {"elevel": [str(i) for i in range(5)], "zipcode": [str(i) for i in range(9)]}
SLICE = Slice.from_record(
    {"description": "age >= 60", "predicate": [{"feature": "age", "low": 60.0, "high": None, "value": None}]}
)

Row = tuple[dict[str, float], dict[str, str]]


agrawal_rule = agrawal.rule
"""The generator's own rule (river's classification function 1) as the route's label function."""


def draw(n: int, seed: int) -> list[tuple[Row, str]]:
    """``n`` Agrawal rows with their labels (the demo scenario's dataset)."""
    return agrawal.rows(n, seed)


def family(rows: Sequence[tuple[Row, str]], name: str = "agrawal-mlp") -> ModelFamily:
    features: list[dict[str, Any]] = []
    for feature in NUMERIC:
        values = np.array([r[0][feature] for r, _ in rows])
        features.append({"name": feature, "kind": "numeric", "mean": float(values.mean()), "std": float(values.std())})
    features += [{"name": k, "kind": "categorical", "values": v} for k, v in CATEGORICAL.items()]
    width = len(NUMERIC) + sum(len(v) for v in CATEGORICAL.values())
    return ModelFamily.from_json(
        {
            "name": name,
            "module": "workers.models:TabularMLP",
            "kwargs": {"in_features": width, "n_classes": 2, "hidden": [64, 64]},
            "features": features,
            "labels": list(LABELS),
        }
    )


def train(fam: ModelFamily, rows: Sequence[tuple[Row, str]], *, epochs: int = 40, seed: int = 0) -> TabularMLP:
    model = instances.train(fam, list(rows), epochs=epochs, lr=3e-3, batch_size=128, seed=seed)
    assert isinstance(model, TabularMLP)
    return model


def accuracy(model: torch.nn.Module, fam: ModelFamily, rows: Sequence[tuple[Row, str]]) -> float:
    with torch.no_grad():
        predicted = model(fam.encode_batch([r for r, _ in rows])).argmax(dim=1).tolist()
    return float(np.mean([fam.labels[p] == label for p, (_, label) in zip(predicted, rows, strict=True)]))


def split_by_slice(rows: Sequence[tuple[Row, str]]) -> tuple[list[tuple[Row, str]], list[tuple[Row, str]]]:
    inside = [r for r in rows if SLICE.contains(*r[0])]
    outside = [r for r in rows if not SLICE.contains(*r[0])]
    return inside, outside


def barely_saw_the_slice(rows: Sequence[tuple[Row, str]], keep: int = 10) -> list[tuple[Row, str]]:
    inside, outside = split_by_slice(rows)
    return outside + inside[:keep]


def joined_events(
    rows: Sequence[tuple[Row, str]], models: Mapping[str, tuple[torch.nn.Module, ModelFamily]], *, prefix: str = "r"
) -> list[dict[str, Any]]:
    """``joined.events`` records: rows served round-robin by the instances, with their predictions."""
    names = sorted(models)
    now = datetime.now(UTC)
    out = []
    for i, ((features, attributes), label) in enumerate(rows):
        instance = names[i % len(names)]
        model, fam = models[instance]
        with torch.no_grad():
            proba = torch.softmax(model(fam.encode(features, attributes)[None]), dim=1)[0]
        prediction = fam.labels[int(proba.argmax())]
        out.append(
            {
                "request_id": f"{prefix}-{i}",
                "route": ROUTE,
                "instance_id": instance,
                "model_version": 1,
                "inference_ts": now,
                "feedback_ts": now,
                "features": features,
                "attributes": attributes,
                "prediction": prediction,
                "probabilities": {label: float(p) for label, p in zip(fam.labels, proba.tolist(), strict=True)},
                "label": label,
                "correct": prediction == label,
            }
        )
    return out
