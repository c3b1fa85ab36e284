"""A toy route for the generator's unit tests: one numeric feature, one integral one, one category."""

from __future__ import annotations

import numpy as np
import torch

from infra.registry.family import ModelFamily
from workers.device import Runtime
from workers.generator.codec import Row, TabularCodec
from workers.generator.model import TabularGenerator

CPU = Runtime(torch.device("cpu"))
FAMILY = ModelFamily.from_json(
    {
        "name": "toy",
        "module": "workers.models:TabularMLP",
        "kwargs": {"in_features": 4, "n_classes": 2, "hidden": [8]},
        "features": [
            {"name": "x", "kind": "numeric", "mean": 2.5, "std": 2.5},
            {"name": "n", "kind": "numeric", "mean": 5.0, "std": 3.0},
            {"name": "colour", "kind": "categorical", "values": ["red", "blue"]},
        ],
        "labels": ["low", "high"],
    }
)


def rows(count: int, seed: int = 0) -> tuple[list[Row], np.ndarray]:
    """Class 0: x ~ N(0, 1), mostly red; class 1: x ~ N(5, 1), mostly blue; n an integer count 0..10."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, size=count)
    out: list[Row] = []
    for label in labels:
        x = float(rng.normal(5.0 * label, 1.0))
        n = float(rng.integers(0, 11))
        colour = ("blue" if label else "red") if rng.random() < 0.9 else ("red" if label else "blue")
        out.append(({"x": x, "n": n}, {"colour": colour}))
    return out, labels


def trained(count: int = 600, epochs: int = 60, seed: int = 0) -> tuple[TabularGenerator, list[Row], np.ndarray]:
    data, labels = rows(count, seed)
    codec = TabularCodec.for_family(FAMILY).fit(data)
    gen = TabularGenerator(codec, FAMILY.labels, CPU, latent=4, hidden=32)
    gen.fit(data, labels, None, epochs=epochs, seed=seed)
    return gen, data, labels
