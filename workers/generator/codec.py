"""Rows <-> the generator's tensors: numeric features standardised, categorical ones one-hot, controls scaled.

The layout follows the target family's features, so the generator learns the same
inputs the instance sees. The data fix what the family cannot: each numeric feature's
observed range (generated values are clipped to it) and whether it only takes whole
numbers (generated values are rounded), and the scale of each control property.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from infra.registry.family import ModelFamily
from schemas.slices import category

Row = tuple[Mapping[str, float], Mapping[str, str]]


@dataclass(frozen=True)
class NumericColumn:
    name: str
    mean: float
    std: float
    low: float = -math.inf
    high: float = math.inf
    integral: bool = False


@dataclass(frozen=True)
class CategoricalColumn:
    name: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class ControlColumn:
    name: str
    mean: float = 0.0
    std: float = 1.0


@dataclass(frozen=True)
class TabularCodec:
    """How rows become the generator's ``x`` (and controls its ``c``), and back.

    >>> from infra.registry.family import ModelFamily
    >>> family = ModelFamily.from_json({"name": "f", "module": "workers.models:TabularMLP", "kwargs": {},
    ...     "features": [{"name": "age", "kind": "numeric", "mean": 40, "std": 10},
    ...                  {"name": "region", "kind": "categorical", "values": ["n", "s"]}], "labels": ["a", "b"]})
    >>> rows = [({"age": 30.0}, {"region": "n"}), ({"age": 50.0}, {"region": "s"})]
    >>> codec = TabularCodec.for_family(family).fit(rows)
    >>> codec.encode([({"age": 50.0}, {"region": "s"})]).tolist()
    [[1.0, 0.0, 1.0]]
    >>> codec.decode(np.array([[9.0]]), [np.array([[0.0, 1.0]])], np.random.default_rng(0))
    [({'age': 50.0}, {'region': 's'})]
    """

    numeric: tuple[NumericColumn, ...]
    categorical: tuple[CategoricalColumn, ...]
    controls: tuple[ControlColumn, ...] = ()
    fitted: bool = False

    @classmethod
    def for_family(cls, family: ModelFamily, controls: Sequence[str] = ()) -> TabularCodec:
        numeric = tuple(NumericColumn(f.name, f.mean, f.std) for f in family.features if f.kind == "numeric")
        categorical = tuple(CategoricalColumn(f.name, f.values) for f in family.features if f.kind == "categorical")
        return cls(numeric, categorical, tuple(ControlColumn(name) for name in controls))

    # -- shape ----------------------------------------------------------------------------------

    @property
    def n_numeric(self) -> int:
        return len(self.numeric)

    @property
    def cat_sizes(self) -> list[int]:
        return [len(c.values) for c in self.categorical]

    @property
    def width(self) -> int:
        return self.n_numeric + sum(self.cat_sizes)

    @property
    def control_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.controls)

    # -- fitting ---------------------------------------------------------------------------------

    def fit(self, rows: Sequence[Row], control_values: np.ndarray | None = None) -> TabularCodec:
        """A codec whose ranges cover ``rows`` and the current ranges.

        The first fit also fixes the scale of each control; later fits (warm starts) keep it,
        since the generator learned with it.
        """
        numeric = []
        for col in self.numeric:
            values = np.array([float(f[col.name]) for f, _ in rows if col.name in f], dtype=np.float64)
            if values.size == 0:
                numeric.append(col)
                continue
            low = min(col.low, float(values.min())) if self.fitted else float(values.min())
            high = max(col.high, float(values.max())) if self.fitted else float(values.max())
            integral = bool(np.all(values == np.round(values))) and (col.integral or not self.fitted)
            numeric.append(replace(col, low=low, high=high, integral=integral))
        controls = self.controls
        if control_values is not None and control_values.size and not self.fitted:
            controls = tuple(
                ControlColumn(c.name, float(control_values[:, i].mean()), float(control_values[:, i].std()) or 1.0)
                for i, c in enumerate(self.controls)
            )
        return TabularCodec(tuple(numeric), self.categorical, controls, fitted=True)

    # -- rows -> arrays --------------------------------------------------------------------------

    def encode(self, rows: Sequence[Row]) -> np.ndarray:
        out = np.zeros((len(rows), self.width), dtype=np.float32)
        for i, (features, attributes) in enumerate(rows):
            for j, col in enumerate(self.numeric):
                out[i, j] = (float(features[col.name]) - col.mean) / col.std
            at = self.n_numeric
            for cat in self.categorical:
                raw: Any = attributes.get(cat.name, features.get(cat.name))
                if raw is not None and category(raw) in cat.values:
                    out[i, at + cat.values.index(category(raw))] = 1.0
                at += len(cat.values)
        return out

    def scale_controls(self, values: np.ndarray) -> np.ndarray:
        """Raw control values (n, controls) -> the generator's ``c``."""
        if not self.controls:
            return np.zeros((len(values), 0), dtype=np.float32)
        mean = np.array([c.mean for c in self.controls], dtype=np.float32)
        std = np.array([c.std for c in self.controls], dtype=np.float32)
        return ((values - mean) / std).astype(np.float32)

    # -- arrays -> rows --------------------------------------------------------------------------

    def decode(self, numeric: np.ndarray, cat_probs: Sequence[np.ndarray], rng: np.random.Generator) -> list[Row]:
        """Standardised numeric outputs (n, numeric) and per-feature class probabilities -> rows.

        Numeric values are clipped to the observed range and rounded where the data are
        whole numbers; categories are drawn from their probabilities.
        """
        n = numeric.shape[0]
        columns: dict[str, np.ndarray] = {}
        for j, col in enumerate(self.numeric):
            values = numeric[:, j].astype(np.float64) * col.std + col.mean
            values = np.clip(values, col.low, col.high)
            columns[col.name] = np.round(values) if col.integral else values
        picks: dict[str, list[str]] = {}
        for cat, probs in zip(self.categorical, cat_probs, strict=True):
            p = np.asarray(probs, dtype=np.float64)
            p = p / p.sum(axis=1, keepdims=True)
            u = rng.random((n, 1))
            index = np.minimum((p.cumsum(axis=1) < u).sum(axis=1), len(cat.values) - 1)
            picks[cat.name] = [cat.values[k] for k in index]
        return [
            (
                {name: float(values[i]) for name, values in columns.items()},
                {name: chosen[i] for name, chosen in picks.items()},
            )
            for i in range(n)
        ]

    # -- checkpoint ------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "numeric": [vars(c) | {"low": _finite(c.low), "high": _finite(c.high)} for c in self.numeric],
            "categorical": [{"name": c.name, "values": list(c.values)} for c in self.categorical],
            "controls": [vars(c) for c in self.controls],
            "fitted": self.fitted,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> TabularCodec:
        numeric = tuple(
            NumericColumn(
                c["name"], c["mean"], c["std"], _inf(c["low"], -math.inf), _inf(c["high"], math.inf), c["integral"]
            )
            for c in raw["numeric"]
        )
        categorical = tuple(CategoricalColumn(c["name"], tuple(c["values"])) for c in raw["categorical"])
        controls = tuple(ControlColumn(c["name"], c["mean"], c["std"]) for c in raw["controls"])
        return cls(numeric, categorical, controls, fitted=bool(raw.get("fitted", True)))


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _inf(value: float | None, default: float) -> float:
    return default if value is None else float(value)
