"""A model family: the ``nn.Module`` to build, its ordered input features with their preprocessing, the labels.

Declared once in JSON::

    {"name": "credit-mlp",
     "module": "workers.models:TabularMLP",
     "kwargs": {"in_features": 4, "n_classes": 2, "hidden": [32]},
     "features": [{"name": "age", "kind": "numeric", "mean": 40, "std": 12},
                  {"name": "region", "kind": "categorical", "values": ["north", "south", "east"]}],
     "labels": ["approve", "deny"]}

Numeric features are read from an event's ``features`` and standardised; categorical
ones from its ``attributes`` (or from ``features``, an integral number read as its
digits: ``schemas.slices.category``, the form slices compare too) and one-hot encoded, an
unknown value as all zeros.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from infra.imports import import_object
from schemas.slices import category

FeatureKind = Literal["numeric", "categorical"]
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


class FamilyError(ValueError):
    """A family declaration that cannot be used."""


class EncodingError(ValueError):
    """An input row that does not fit a family's features; ``field`` names the feature."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class FeatureSpec:
    """One input feature: numeric (standardised with ``mean`` and ``std``) or categorical (one-hot of ``values``)."""

    name: str
    kind: FeatureKind
    mean: float = 0.0
    std: float = 1.0
    values: tuple[str, ...] = ()

    @property
    def width(self) -> int:
        return 1 if self.kind == "numeric" else len(self.values)

    def to_json(self) -> dict[str, Any]:
        if self.kind == "numeric":
            return {"name": self.name, "kind": "numeric", "mean": self.mean, "std": self.std}
        return {"name": self.name, "kind": "categorical", "values": list(self.values)}


@dataclass(frozen=True)
class ModelFamily:
    """What every version of an instance shares: module, constructor kwargs, features, labels.

    >>> family = ModelFamily.from_json({"name": "f", "module": "workers.models:TabularMLP",
    ...     "kwargs": {"in_features": 3, "n_classes": 2, "hidden": [4]},
    ...     "features": [{"name": "age", "kind": "numeric", "mean": 40, "std": 10},
    ...                  {"name": "region", "kind": "categorical", "values": ["n", "s"]}],
    ...     "labels": ["no", "yes"]})
    >>> family.width, family.labels
    (3, ('no', 'yes'))
    >>> family.encode({"age": 50.0}, {"region": "s"}).tolist()
    [1.0, 0.0, 1.0]
    >>> family.build()(family.encode_batch([({"age": 30.0}, {"region": "n"})])).shape
    torch.Size([1, 2])
    """

    name: str
    module: str
    kwargs: Mapping[str, Any]
    features: tuple[FeatureSpec, ...]
    labels: tuple[str, ...]
    _index: Mapping[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {label: i for i, label in enumerate(self.labels)})

    # -- declaration --------------------------------------------------------------------------

    @classmethod
    def from_json(cls, raw: Mapping[str, Any], name: str | None = None) -> ModelFamily:
        """Validate a declaration; every error names the family and the field."""
        family = name or raw.get("name")
        where = f"family {family!r}"
        if not isinstance(family, str) or not _NAME.fullmatch(family):
            msg = f"{where}: 'name' must match {_NAME.pattern}"
            raise FamilyError(msg)
        unknown = set(raw) - {"name", "module", "kwargs", "features", "labels"}
        if unknown:
            msg = f"{where}: unknown field(s) {sorted(unknown)}"
            raise FamilyError(msg)
        module = raw.get("module")
        if not isinstance(module, str) or not re.fullmatch(r"[\w.]+:[\w.]+", module):
            msg = f"{where}: 'module' must be 'package.module:Class', got {module!r}"
            raise FamilyError(msg)
        kwargs = raw.get("kwargs", {})
        if not isinstance(kwargs, dict):
            msg = f"{where}: 'kwargs' must be a JSON object"
            raise FamilyError(msg)
        features = tuple(_feature(f, where, i) for i, f in enumerate(_list(raw, "features", where)))
        names = [f.name for f in features]
        if not features or len(set(names)) != len(names):
            msg = f"{where}: 'features' must be non-empty with unique names, got {names}"
            raise FamilyError(msg)
        labels = tuple(_list(raw, "labels", where))
        if len(labels) < 2 or len(set(labels)) != len(labels) or not all(isinstance(x, str) for x in labels):
            msg = f"{where}: 'labels' must be two or more distinct strings, got {list(labels)}"
            raise FamilyError(msg)
        return cls(family, module, dict(kwargs), features, labels)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "module": self.module,
            "kwargs": dict(self.kwargs),
            "features": [f.to_json() for f in self.features],
            "labels": list(self.labels),
        }

    @property
    def fingerprint(self) -> str:
        """sha256 of the canonical declaration (name excluded): equal fingerprints, interchangeable weights."""
        body = {k: v for k, v in self.to_json().items() if k != "name"}
        return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()

    # -- the module ---------------------------------------------------------------------------

    def build(self) -> nn.Module:
        """A fresh module (random weights) from the declared class and kwargs."""
        try:
            target = import_object(self.module)
        except ImportError as exc:
            msg = f"family {self.name!r}: {exc}"
            raise FamilyError(msg) from exc
        if not (isinstance(target, type) and issubclass(target, nn.Module)):
            msg = f"family {self.name!r}: {self.module!r} is not an nn.Module class"
            raise FamilyError(msg)
        try:
            return target(**self.kwargs)
        except (TypeError, ValueError) as exc:
            msg = f"family {self.name!r}: {self.module}(**{dict(self.kwargs)}) failed: {exc}"
            raise FamilyError(msg) from exc

    # -- encoding -----------------------------------------------------------------------------

    @property
    def width(self) -> int:
        """Length of an encoded row."""
        return sum(f.width for f in self.features)

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features)

    def label_index(self, label: str) -> int:
        try:
            return self._index[label]
        except KeyError:
            msg = f"family {self.name!r}: unknown label {label!r}; labels are {list(self.labels)}"
            raise EncodingError(msg, field="label") from None

    def encode(self, features: Mapping[str, float], attributes: Mapping[str, str] | None = None) -> torch.Tensor:
        """One row as a 1-D float32 tensor of length ``width``."""
        return torch.from_numpy(self._encode_row(features, attributes or {}))

    def encode_batch(self, rows: Iterable[tuple[Mapping[str, float], Mapping[str, str]]]) -> torch.Tensor:
        """Rows of ``(features, attributes)`` as an ``(n, width)`` float32 tensor."""
        encoded = [self._encode_row(f, a) for f, a in rows]
        if not encoded:
            return torch.zeros((0, self.width), dtype=torch.float32)
        return torch.from_numpy(np.stack(encoded))

    def _encode_row(self, features: Mapping[str, float], attributes: Mapping[str, str]) -> np.ndarray:
        out = np.zeros(self.width, dtype=np.float32)
        at = 0
        for spec in self.features:
            if spec.kind == "numeric":
                out[at] = (_number(spec.name, features, attributes) - spec.mean) / spec.std
            else:
                raw = attributes.get(spec.name, features.get(spec.name))
                if raw is None:
                    msg = f"categorical feature {spec.name!r} is missing"
                    raise EncodingError(msg, field=spec.name)
                value = category(raw)
                if value in spec.values:
                    out[at + spec.values.index(value)] = 1.0
            at += spec.width
        return out


def _number(name: str, features: Mapping[str, float], attributes: Mapping[str, str]) -> float:
    raw: Any = features.get(name, attributes.get(name))
    if raw is None:
        msg = f"numeric feature {name!r} is missing"
        raise EncodingError(msg, field=name)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        msg = f"numeric feature {name!r} is not a number: {raw!r}"
        raise EncodingError(msg, field=name) from None
    if not math.isfinite(value):
        msg = f"numeric feature {name!r} is not finite: {value}"
        raise EncodingError(msg, field=name)
    return value


def _list(raw: Mapping[str, Any], key: str, where: str) -> Sequence[Any]:
    value = raw.get(key)
    if not isinstance(value, list):
        msg = f"{where}: {key!r} must be a JSON list"
        raise FamilyError(msg)
    return value


def _feature(raw: Any, where: str, i: int) -> FeatureSpec:
    at = f"{where}: features[{i}]"
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
        msg = f"{at}: must be an object with a string 'name'"
        raise FamilyError(msg)
    kind = raw.get("kind")
    if kind == "numeric":
        try:
            mean, std = float(raw.get("mean", 0.0)), float(raw.get("std", 1.0))
        except (TypeError, ValueError):
            msg = f"{at} ({raw['name']}): 'mean' and 'std' must be numbers"
            raise FamilyError(msg) from None
        if not (math.isfinite(mean) and math.isfinite(std) and std > 0):
            msg = f"{at} ({raw['name']}): needs a finite mean and a positive std, got {mean}, {std}"
            raise FamilyError(msg)
        return FeatureSpec(raw["name"], "numeric", mean=mean, std=std)
    if kind == "categorical":
        values = raw.get("values")
        if not isinstance(values, list) or not values or len(set(map(str, values))) != len(values):
            msg = f"{at} ({raw['name']}): 'values' must be a non-empty list of distinct values"
            raise FamilyError(msg)
        return FeatureSpec(raw["name"], "categorical", values=tuple(category(v) for v in values))
    msg = f"{at} ({raw['name']}): 'kind' must be 'numeric' or 'categorical', got {kind!r}"
    raise FamilyError(msg)
