"""Slices: the one definition of which rows lie in a region of the input space.

A slice is a conjunction of conditions, at most one per feature (``io.insitu.Slice`` and
``io.insitu.Condition`` in the Avro schemas). The profiler finds slices, the generator samples
inside them, the fine-tuner gates on them and the router's canary counts on them; every one of
them decides membership here, so a row inside a slice for one is inside it for all.

A condition reads a row's value of its feature from the attributes when the row has it there,
else from the numeric features, and holds when

- numeric (no ``value``): the value is a number with ``low <= x < high`` (``None``: an open end);
- categorical (``value``): the value's categorical form (``category``) is ``value``, so ``"3"``
  matches the number ``3.0`` and ``"3.0"`` matches nothing numeric.

A row that lacks the feature, or whose value is NaN (or not a number, for a numeric condition),
is outside.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

Row = tuple[Mapping[str, float], Mapping[str, str]]
"""One row: its numeric features and its attributes."""


def category(value: Any) -> str:
    """The categorical form of a value: strings as they are, integral numbers as their digits, else ``repr(float)``.

    Categorical features may arrive as attributes (strings) or as numeric features; both
    compare through this form.

    >>> category("north"), category(3.0), category(3), category(2.5)
    ('north', '3', '3', '2.5')
    """
    if isinstance(value, str):
        return value
    number = float(value)
    return str(int(number)) if number.is_integer() else repr(number)


@runtime_checkable
class Columns(Protocol):
    """Rows held as columns, one entry per row (the profiler's ``Frame`` is one).

    ``numeric`` columns are float arrays (NaN where a row lacks the feature); ``categorical``
    columns hold the rows' attributes as strings (``None`` where a row lacks the attribute).
    """

    @property
    def numeric(self) -> Mapping[str, np.ndarray]: ...

    @property
    def categorical(self) -> Mapping[str, np.ndarray]: ...

    def __len__(self) -> int: ...


@dataclass(frozen=True, order=True)
class Condition:
    """One condition: ``low <= x < high`` on a number (either bound open), or ``category(x) == value``.

    >>> Condition("age", 25.0, 45.0).describe(), Condition("income", low=1e5).describe()
    ('25 <= age < 45', 'income >= 100000')
    >>> Condition("region", value="north").describe(), Condition("x", high=0.123456).describe()
    ('region == north', 'x < 0.1235')
    >>> Condition("n", value="3").holds({"n": 3.0}, {}), Condition("n", value="3.0").holds({"n": 3.0}, {})
    (True, False)
    >>> Condition.from_record({"feature": "age", "low": float("-inf"), "high": 30})
    Condition(feature='age', low=None, high=30.0, value=None)
    """

    feature: str
    low: float | None = None
    high: float | None = None
    value: str | None = None

    @property
    def numeric(self) -> bool:
        return self.value is None

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Condition:
        """From an ``io.insitu.Condition`` record; ``ValueError`` for a NaN bound or an empty range.

        An infinite bound is an open end.
        """
        feature = record["feature"]
        low, high, value = _bound(record.get("low"), feature), _bound(record.get("high"), feature), record.get("value")
        if value is None and low is not None and high is not None and low >= high:
            msg = f"empty range on {feature!r}: [{low}, {high})"
            raise ValueError(msg)
        return cls(feature, low, high, value)

    def to_record(self) -> dict[str, Any]:
        """The ``io.insitu.Condition`` record."""
        return {"feature": self.feature, "low": self.low, "high": self.high, "value": self.value}

    def holds(self, features: Mapping[str, float], attributes: Mapping[str, str]) -> bool:
        """Whether the row ``(features, attributes)`` satisfies the condition."""
        raw: Any = attributes.get(self.feature)
        if raw is None:
            raw = features.get(self.feature)
        if raw is None:
            return False
        if self.value is not None and isinstance(raw, str):
            return raw == self.value
        x = _number(raw)
        if self.value is not None:
            return not math.isnan(x) and category(x) == self.value
        return bool(self.within(x))

    def mask(self, columns: Columns) -> np.ndarray:
        """Which rows of ``columns`` satisfy the condition (the same answer as ``holds`` row by row)."""
        n = len(columns)
        text, numbers = columns.categorical.get(self.feature), columns.numeric.get(self.feature)
        has_text = np.zeros(n, dtype=bool) if text is None else np.asarray(text != None, dtype=np.bool_)  # noqa: E711
        if self.value is None:
            x = np.full(n, np.nan) if numbers is None else np.array(numbers, dtype=np.float64)
            if text is not None and has_text.any():
                x[has_text] = [_number(v) for v in text[has_text]]
            return np.asarray(self.within(x), dtype=bool)
        inside = np.zeros(n, dtype=bool) if text is None else np.asarray(text == self.value, dtype=bool)
        target = _numeric_category(self.value)
        if numbers is not None and target is not None:
            inside |= np.logical_not(has_text) & (numbers == target)
        return inside

    def within(self, x: Any) -> Any:
        """Whether a number (or each of an array of numbers) is in ``[low, high)``; NaN is not.

        >>> Condition("x", 1.0, 3.0).within(np.array([0.0, 1.0, 2.5, 3.0, np.nan])).tolist()
        [False, True, True, False, False]
        """
        inside = ~np.isnan(x)
        if self.low is not None:
            inside = inside & (x >= self.low)
        if self.high is not None:
            inside = inside & (x < self.high)
        return inside

    def overlaps(self, other: Condition) -> bool:
        """Whether some value satisfies both (the same feature assumed).

        >>> below, above, a = Condition("x", 0.0, 5.0), Condition("x", low=5.0), Condition("x", value="a")
        >>> below.overlaps(above), a.overlaps(above), a.overlaps(Condition("x", value="b"))
        (False, True, False)
        """
        if self.value is not None or other.value is not None:
            return self.value is None or other.value is None or self.value == other.value
        low = max(x for x in (self.low, other.low, -math.inf) if x is not None)
        high = min(x for x in (self.high, other.high, math.inf) if x is not None)
        return low < high

    def describe(self) -> str:
        if self.value is not None:
            return f"{self.feature} == {self.value}"
        if self.low is not None and self.high is not None:
            return f"{_shown(self.low)} <= {self.feature} < {_shown(self.high)}"
        if self.low is not None:
            return f"{self.feature} >= {_shown(self.low)}"
        if self.high is not None:
            return f"{self.feature} < {_shown(self.high)}"
        return f"{self.feature} is set"


@dataclass(frozen=True)
class Slice:
    """A conjunction of conditions, at most one per feature, kept sorted by feature, with its description.

    An empty ``description`` is rendered from the conditions (``describe``); the empty slice is "all".

    >>> s = Slice.from_record({"description": "", "predicate": [
    ...     {"feature": "region", "value": "north"}, {"feature": "age", "low": 25.0, "high": 45.0}]})
    >>> s.description, s.features
    ('25 <= age < 45 and region == north', ['age', 'region'])
    >>> s.contains({"age": 30.0}, {"region": "north"}), s.contains({"age": 30.0}, {})
    (True, False)
    >>> s.mask([({"age": 30.0}, {"region": "north"}), ({"age": 50.0}, {"region": "north"})]).tolist()
    [True, False]
    >>> Slice.from_record(s.to_record()) == s, Slice.from_predicate(s.to_predicate()) == s
    (True, True)
    >>> s.without("region").replace(Condition("age", low=60.0)).describe(), Slice().describe()
    ('age >= 60', 'all')
    """

    conditions: tuple[Condition, ...] = ()
    description: str = ""

    def __post_init__(self) -> None:
        conditions = tuple(sorted(self.conditions, key=lambda c: c.feature))
        features = [c.feature for c in conditions]
        if len(set(features)) != len(features):
            msg = f"at most one condition per feature, got {features}"
            raise ValueError(msg)
        object.__setattr__(self, "conditions", conditions)
        if not self.description:
            object.__setattr__(self, "description", self.describe())

    @classmethod
    def of(cls, conditions: Iterable[Condition], description: str = "") -> Slice:
        """The conjunction of ``conditions``; a later condition on a feature replaces an earlier one."""
        return cls(tuple({c.feature: c for c in conditions}.values()), description)

    @classmethod
    def from_predicate(cls, records: Iterable[Mapping[str, Any]], description: str = "") -> Slice:
        """From the ``predicate`` list of ``io.insitu.Condition`` records; ``ValueError`` names what is wrong."""
        try:
            return cls(tuple(Condition.from_record(r) for r in records), description)
        except ValueError as exc:
            msg = f"slice {description!r}: {exc}"
            raise ValueError(msg) from None

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Slice:
        """From an ``io.insitu.Slice`` record (or any record with ``predicate`` and ``description``)."""
        return cls.from_predicate(record["predicate"], record.get("description") or "")

    def to_predicate(self) -> list[dict[str, Any]]:
        """The ``predicate`` list of ``io.insitu.Condition`` records."""
        return [c.to_record() for c in self.conditions]

    def to_record(self) -> dict[str, Any]:
        """``{"description", "predicate"}``: the shape of ``io.insitu.Slice``'s and ``TargetSlice``'s fields."""
        return {"description": self.description, "predicate": self.to_predicate()}

    def __len__(self) -> int:
        return len(self.conditions)

    @property
    def features(self) -> list[str]:
        return [c.feature for c in self.conditions]

    def get(self, feature: str) -> Condition | None:
        return next((c for c in self.conditions if c.feature == feature), None)

    def without(self, feature: str) -> Slice:
        return Slice(tuple(c for c in self.conditions if c.feature != feature))

    def replace(self, condition: Condition) -> Slice:
        return Slice.of([*self.conditions, condition])

    def contains(self, features: Mapping[str, float], attributes: Mapping[str, str]) -> bool:
        """Whether the row ``(features, attributes)`` lies inside."""
        return all(c.holds(features, attributes) for c in self.conditions)

    def mask(self, rows: Columns | Iterable[Row]) -> np.ndarray:
        """Which rows lie inside, of ``Columns`` (vectorised) or of ``(features, attributes)`` rows."""
        if isinstance(rows, Columns):
            inside = np.ones(len(rows), dtype=bool)
            for c in self.conditions:
                inside &= c.mask(rows)
            return inside
        return np.fromiter((self.contains(f, a) for f, a in rows), dtype=bool)

    def overlaps(self, other: Slice) -> bool:
        """Whether the two may share rows: their conditions on each common feature are compatible."""
        return all(c.overlaps(d) for c in self.conditions if (d := other.get(c.feature)) is not None)

    def describe(self) -> str:
        """``25 <= age < 45 and region == north``; "all" for the empty slice."""
        return " and ".join(c.describe() for c in self.conditions) or "all"


def in_any(slices: Sequence[Slice], rows: Columns | Sequence[Row]) -> np.ndarray:
    """Rows inside at least one of ``slices``; with no slices, every row.

    >>> young, north = Slice((Condition("age", high=30.0),)), Slice((Condition("region", value="n"),))
    >>> in_any([young, north], [({"age": 20.0}, {}), ({"age": 50.0}, {"region": "n"}), ({}, {})]).tolist()
    [True, True, False]
    """
    if not slices:
        return np.ones(len(rows), dtype=bool)
    inside = np.zeros(len(rows), dtype=bool)
    for s in slices:
        inside |= s.mask(rows)
    return inside


def _bound(value: Any, feature: str) -> float | None:
    if value is None:
        return None
    number = float(value)
    if math.isnan(number):
        msg = f"a bound of {feature!r} is NaN"
        raise ValueError(msg)
    return None if math.isinf(number) else number


def _number(raw: Any) -> float:
    """``raw`` as a float; NaN when it is not a number."""
    try:
        return float(raw)
    except (TypeError, ValueError):
        return math.nan


def _numeric_category(value: str) -> float | None:
    """The number whose categorical form is ``value`` (``"3"``: 3.0), or None (``"3.0"``, ``"north"``)."""
    x = _number(value)
    return x if not math.isnan(x) and category(x) == value else None


def _shown(x: float) -> str:
    """A bound as text: an integer without decimals, else 4 significant digits."""
    if math.isfinite(x) and x == round(x) and abs(x) < 1e15:
        return str(round(x))
    return f"{x:.4g}"
