"""Slice predicates as the profiles describe them: conjunctions of ranges and required values.

A condition on a numeric feature is ``low <= x < high`` (either bound may be open); a
condition with ``value`` requires that categorical value (an attribute, or a number
whose categorical form is ``value``). A row that lacks a conditioned feature is
outside the slice.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from infra.registry.family import category


@dataclass(frozen=True)
class Condition:
    """One condition of a slice predicate (``io.insitu.Condition`` in the Avro schemas)."""

    feature: str
    low: float | None = None
    high: float | None = None
    value: str | None = None

    def holds(self, features: Mapping[str, float], attributes: Mapping[str, str]) -> bool:
        raw: Any = attributes.get(self.feature, features.get(self.feature))
        if raw is None:
            return False
        if self.value is not None:
            try:
                return category(raw) == self.value
            except (TypeError, ValueError):
                return False
        try:
            x = float(raw)
        except (TypeError, ValueError):
            return False
        if math.isnan(x):
            return False
        return (self.low is None or x >= self.low) and (self.high is None or x < self.high)

    def overlaps(self, other: Condition) -> bool:
        """Whether some value satisfies both (same feature assumed)."""
        if self.value is not None or other.value is not None:
            return self.value is None or other.value is None or self.value == other.value
        low = max(x for x in (self.low, other.low, -math.inf) if x is not None)
        high = min(x for x in (self.high, other.high, math.inf) if x is not None)
        return low < high

    def to_avro(self) -> dict[str, Any]:
        return {"feature": self.feature, "low": self.low, "high": self.high, "value": self.value}


@dataclass(frozen=True)
class SlicePredicate:
    """A conjunction of conditions with its human-readable description.

    >>> s = SlicePredicate.from_avro({"description": "age >= 60 and region = n",
    ...     "predicate": [{"feature": "age", "low": 60.0, "high": None}, {"feature": "region", "value": "n"}]})
    >>> s.contains({"age": 61.0}, {"region": "n"}), s.contains({"age": 59.0}, {"region": "n"})
    (True, False)
    >>> s.mask([({"age": 70.0}, {"region": "n"}), ({"age": 70.0}, {"region": "s"})]).tolist()
    [True, False]
    """

    conditions: tuple[Condition, ...]
    description: str

    @classmethod
    def from_avro(cls, record: Mapping[str, Any]) -> SlicePredicate:
        """From an ``io.insitu.Slice`` (or any record with ``predicate`` and ``description``)."""
        conditions = tuple(
            Condition(
                feature=c["feature"],
                low=_bound(c.get("low")),
                high=_bound(c.get("high")),
                value=c.get("value"),
            )
            for c in record["predicate"]
        )
        for c in conditions:
            if c.value is None and c.low is not None and c.high is not None and c.low >= c.high:
                msg = f"slice {record.get('description', '')!r}: empty range on {c.feature!r}: [{c.low}, {c.high})"
                raise ValueError(msg)
        return cls(conditions, record.get("description") or describe(conditions))

    def to_avro(self) -> dict[str, Any]:
        return {"description": self.description, "predicate": [c.to_avro() for c in self.conditions]}

    @property
    def features(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c.feature for c in self.conditions))

    def contains(self, features: Mapping[str, float], attributes: Mapping[str, str]) -> bool:
        return all(c.holds(features, attributes) for c in self.conditions)

    def mask(self, rows: Iterable[tuple[Mapping[str, float], Mapping[str, str]]]) -> np.ndarray:
        """A boolean array: which ``(features, attributes)`` rows lie inside."""
        return np.fromiter((self.contains(f, a) for f, a in rows), dtype=bool)

    def overlaps(self, other: SlicePredicate) -> bool:
        """Whether the two slices may share rows (conditions on the same feature must be compatible)."""
        return all(a.overlaps(b) for a in self.conditions for b in other.conditions if a.feature == b.feature)


def in_any(
    slices: Sequence[SlicePredicate], rows: Sequence[tuple[Mapping[str, float], Mapping[str, str]]]
) -> np.ndarray:
    """Rows inside at least one of ``slices``; with no slices, every row."""
    if not slices:
        return np.ones(len(rows), dtype=bool)
    mask = np.zeros(len(rows), dtype=bool)
    for s in slices:
        mask |= s.mask(rows)
    return mask


def describe(conditions: Iterable[Condition]) -> str:
    """``20 <= age < 40 and region = north``."""
    parts = []
    for c in conditions:
        if c.value is not None:
            parts.append(f"{c.feature} = {c.value}")
        elif c.low is not None and c.high is not None:
            parts.append(f"{c.low:g} <= {c.feature} < {c.high:g}")
        elif c.low is not None:
            parts.append(f"{c.feature} >= {c.low:g}")
        elif c.high is not None:
            parts.append(f"{c.feature} < {c.high:g}")
        else:
            parts.append(f"{c.feature} present")
    return " and ".join(parts) or "everything"


def _bound(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    if math.isnan(number):
        msg = "a slice bound is NaN"
        raise ValueError(msg)
    return None if math.isinf(number) else number
