"""Slice predicates: conjunctions of conditions on a window's columns.

Same semantics as the ``Condition`` record of ``profiles``: ``low <= x < high`` on a numeric
feature (``None`` for an open end), ``x == value`` on a categorical feature or attribute. An event
that lacks the feature is outside the slice.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from streams.profiling.window import Frame


@dataclass(frozen=True, order=True)
class Condition:
    """One condition: a numeric interval ``[low, high)`` or a categorical ``value``.

    >>> Condition("age", 25.0, 45.0).describe(), Condition("income", low=1e5).describe()
    ('25 <= age < 45', 'income >= 100000')
    >>> Condition("region", value="north").describe()
    'region == north'
    """

    feature: str
    low: float | None = None
    high: float | None = None
    value: str | None = None

    @property
    def numeric(self) -> bool:
        return self.value is None

    def mask(self, frame: Frame) -> np.ndarray:
        if self.value is not None:
            column = frame.categorical.get(self.feature)
            return np.zeros(len(frame), bool) if column is None else np.asarray(column == self.value, dtype=bool)
        x = frame.numeric.get(self.feature)
        if x is None:
            return np.zeros(len(frame), bool)
        inside = ~np.isnan(x)
        if self.low is not None:
            inside &= x >= self.low
        if self.high is not None:
            inside &= x < self.high
        return inside

    def describe(self) -> str:
        if self.value is not None:
            return f"{self.feature} == {self.value}"
        if self.low is not None and self.high is not None:
            return f"{number(self.low)} <= {self.feature} < {number(self.high)}"
        if self.low is not None:
            return f"{self.feature} >= {number(self.low)}"
        if self.high is not None:
            return f"{self.feature} < {number(self.high)}"
        return f"{self.feature} is set"

    def to_record(self) -> dict[str, Any]:
        return {"feature": self.feature, "low": self.low, "high": self.high, "value": self.value}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Condition:
        low, high = record.get("low"), record.get("high")
        return cls(
            record["feature"],
            None if low is None else float(low),
            None if high is None else float(high),
            record.get("value"),
        )


def number(x: float) -> str:
    """A short rendering of a bound: integers without decimals, else 4 significant digits."""
    if math.isfinite(x) and x == round(x) and abs(x) < 1e15:
        return str(round(x))
    return f"{x:.4g}"


@dataclass(frozen=True)
class Predicate:
    """A conjunction of conditions, at most one per feature, kept sorted by feature.

    >>> p = Predicate.of([Condition("income", low=1e5), Condition("age", 25.0, 45.0)])
    >>> p.describe()
    '25 <= age < 45 and income >= 100000'
    >>> Predicate.from_records(p.to_records()) == p
    True
    """

    conditions: tuple[Condition, ...]

    @classmethod
    def of(cls, conditions: Iterable[Condition]) -> Predicate:
        by_feature = {c.feature: c for c in conditions}
        return cls(tuple(by_feature[f] for f in sorted(by_feature)))

    def __len__(self) -> int:
        return len(self.conditions)

    @property
    def features(self) -> list[str]:
        return [c.feature for c in self.conditions]

    def get(self, feature: str) -> Condition | None:
        return next((c for c in self.conditions if c.feature == feature), None)

    def without(self, feature: str) -> Predicate:
        return Predicate(tuple(c for c in self.conditions if c.feature != feature))

    def replace(self, condition: Condition) -> Predicate:
        return Predicate.of([*self.without(condition.feature).conditions, condition])

    def mask(self, frame: Frame) -> np.ndarray:
        inside = np.ones(len(frame), bool)
        for condition in self.conditions:
            inside &= condition.mask(frame)
        return inside

    def describe(self) -> str:
        return " and ".join(c.describe() for c in self.conditions) or "all"

    def to_records(self) -> list[dict[str, Any]]:
        return [c.to_record() for c in self.conditions]

    @classmethod
    def from_records(cls, records: Sequence[Mapping[str, Any]]) -> Predicate:
        return cls.of(Condition.from_record(r) for r in records)


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """|a and b| / |a or b| of two boolean masks (0 when both are empty)."""
    union = int(np.count_nonzero(a | b))
    return int(np.count_nonzero(a & b)) / union if union else 0.0


def containment(a: np.ndarray, b: np.ndarray) -> float:
    """|a and b| / min(|a|, |b|): how much of the smaller mask lies in the other (0 if one is empty)."""
    smaller = min(int(np.count_nonzero(a)), int(np.count_nonzero(b)))
    return int(np.count_nonzero(a & b)) / smaller if smaller else 0.0
