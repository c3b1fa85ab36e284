"""Slices: one answer to "is this row inside" from the columnar mask, the batch mask and ``contains``."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.slices import Columns, Condition, Row, Slice, category, in_any


@dataclass(frozen=True)
class Table:
    """Columns the way the profiler's ``Frame`` holds them (NaN and ``None`` where a row lacks a name)."""

    numeric: Mapping[str, np.ndarray]
    categorical: Mapping[str, np.ndarray]
    rows: int

    def __len__(self) -> int:
        return self.rows

    @classmethod
    def of(cls, rows: Sequence[Row]) -> Table:
        numeric = {
            name: np.array([f.get(name, np.nan) for f, _ in rows], dtype=np.float64)
            for name in sorted({name for f, _ in rows for name in f})
        }
        categorical = {}
        for name in sorted({name for _, a in rows for name in a}):
            column = np.empty(len(rows), dtype=object)
            column[:] = [a.get(name) for _, a in rows]
            categorical[name] = column
        return cls(numeric, categorical, len(rows))


def table() -> Table:
    return Table.of(
        [
            ({"x": 1.0}, {"region": "n"}),
            ({"x": 2.0}, {"region": "s"}),
            ({"x": 3.0}, {}),
            ({"x": np.nan}, {"region": "n"}),
        ]
    )


def test_a_table_is_columns():
    assert isinstance(table(), Columns) and not isinstance([({}, {})], Columns)


def test_numeric_interval_is_closed_open_and_missing_is_outside():
    f = table()
    assert Condition("x", 2.0, 3.0).mask(f).tolist() == [False, True, False, False]
    assert Condition("x", low=2.0).mask(f).tolist() == [False, True, True, False]
    assert Condition("x", high=2.0).mask(f).tolist() == [True, False, False, False]
    assert Condition("nope", low=0.0).mask(f).tolist() == [False] * 4


def test_categorical_value_and_conjunction():
    f = table()
    assert Condition("region", value="n").mask(f).tolist() == [True, False, False, True]
    assert Condition("missing", value="n").mask(f).tolist() == [False] * 4
    p = Slice.of([Condition("region", value="n"), Condition("x", high=2.5)])
    assert p.mask(f).tolist() == [True, False, False, False]
    assert p.describe() == "region == n and x < 2.5"


def test_one_condition_per_feature_and_editing():
    p = Slice.of([Condition("x", low=1.0), Condition("x", low=2.0), Condition("a", value="v")])
    assert p.features == ["a", "x"] and p.get("x") == Condition("x", low=2.0)
    assert p.without("a").features == ["x"]
    assert p.replace(Condition("x", high=5.0)).get("x") == Condition("x", high=5.0)
    with pytest.raises(ValueError, match="one condition per feature"):
        Slice((Condition("x", low=1.0), Condition("x", high=2.0)))


def test_records_round_trip_and_match_the_schema_fields():
    p = Slice.of([Condition("age", 25.0, 45.0), Condition("region", value="east")])
    records = p.to_predicate()
    assert records[0] == {"feature": "age", "low": 25.0, "high": 45.0, "value": None}
    assert Slice.from_predicate(records) == p
    assert Slice.from_predicate([{"feature": "age", "low": 25}]).get("age") == Condition("age", 25.0)
    assert p.to_record() == {"description": "25 <= age < 45 and region == east", "predicate": records}
    assert Slice.from_record({"description": "young", "predicate": records}).description == "young"


@pytest.mark.parametrize(
    ("condition", "problem"),
    [
        ({"feature": "x", "low": math.nan}, "NaN"),
        ({"feature": "x", "low": 2.0, "high": 2.0}, "empty range"),
        ({"feature": "x", "low": 3.0, "high": 1.0}, "empty range"),
    ],
)
def test_a_record_that_is_no_slice_is_refused(condition, problem):
    with pytest.raises(ValueError, match=problem):
        Slice.from_record({"description": "bad", "predicate": [condition]})
    with pytest.raises(ValueError, match="one condition per feature"):
        Slice.from_record(
            {"description": "", "predicate": [{"feature": "x", "low": 1.0}, {"feature": "x", "high": 2.0}]}
        )


def test_infinite_bounds_are_open_ends():
    parsed = Slice.from_predicate([{"feature": "x", "low": -math.inf, "high": math.inf}, {"feature": "y", "high": 1.0}])
    assert parsed.conditions == (Condition("x"), Condition("y", high=1.0))
    assert parsed.describe() == "x is set and y < 1"


def test_descriptions_render_integers_plainly_and_other_numbers_to_four_digits():
    assert Condition("age", 25.0, 45.0).describe() == "25 <= age < 45"
    assert Condition("income", low=1e5).describe() == "income >= 100000"
    assert Condition("x", high=2.0 / 3).describe() == "x < 0.6667"
    assert Condition("region", value="north").describe() == "region == north"
    assert Slice().describe() == "all" and Slice().description == "all"


@pytest.mark.parametrize(
    ("value", "x", "inside"),
    [("3", 3.0, True), ("3.0", 3.0, False), ("2.5", 2.5, True), ("3", math.nan, False), ("north", 3.0, False)],
)
def test_a_categorical_condition_on_a_number_compares_its_category(value, x, inside):
    s = Slice((Condition("n", value=value),))
    rows = [({"n": x}, {})]
    assert s.contains(*rows[0]) is inside
    assert s.mask(rows).tolist() == s.mask(Table.of(rows)).tolist() == [inside]


def test_attributes_come_first_and_missing_or_nan_is_outside():
    numeric, colour = Condition("x", low=0.0), Condition("x", value="red")
    assert numeric.holds({"x": 1.0}, {}) and not numeric.holds({"x": math.nan}, {}) and not numeric.holds({}, {})
    assert not numeric.holds({"x": 1.0}, {"x": "not a number"}) and numeric.holds({"x": -1.0}, {"x": "2"})
    assert colour.holds({"x": 1.0}, {"x": "red"}) and not colour.holds({}, {"x": "blue"})
    assert Condition("x").holds({"x": 1.0}, {}) and not Condition("x").holds({"x": math.nan}, {})


def test_category():
    assert [category(v) for v in ("north", 3.0, 3, -0.0, 2.5, 1e20)] == ["north", "3", "3", "0", "2.5", "1" + "0" * 20]


def test_overlaps_and_in_any():
    young, old = Slice((Condition("age", high=30.0),)), Slice((Condition("age", low=60.0),))
    north = Slice((Condition("region", value="north"),))
    assert not young.overlaps(old) and young.overlaps(north) and north.overlaps(young)
    assert not north.overlaps(Slice((Condition("region", value="south"),)))
    rows = [({"age": 20.0}, {}), ({"age": 70.0}, {}), ({"age": 40.0}, {"region": "north"}), ({"age": 40.0}, {})]
    assert in_any([young, north], rows).tolist() == [True, False, True, False]
    assert in_any([young, north], Table.of(rows)).tolist() == [True, False, True, False]
    assert in_any([], rows).tolist() == [True] * 4


# -- the contract: three ways to ask, one answer ------------------------------------------------

NAMES = ("a", "b", "c")
TEXTS = ("3", "3.0", "2.5", "-0", "0", "nan", "inf", "north", "", " 3")
NUMBERS = st.one_of(
    st.sampled_from([3.0, 3, 2.5, 0.0, -0.0, math.nan, math.inf, -math.inf, 1e20]),
    st.floats(-10, 10, allow_nan=False),
)
BOUNDS = st.one_of(st.none(), st.sampled_from([-1.0, 0.0, 2.5, 3.0, math.inf]), st.floats(-10, 10, allow_nan=False))
ROWS = st.lists(
    st.tuples(
        st.dictionaries(st.sampled_from(NAMES), NUMBERS, max_size=3),
        st.dictionaries(st.sampled_from(NAMES), st.sampled_from(TEXTS), max_size=2),
    ),
    max_size=12,
)
CONDITIONS = st.one_of(
    st.builds(Condition, st.sampled_from(NAMES), BOUNDS, BOUNDS),
    st.builds(Condition, st.sampled_from(NAMES), value=st.sampled_from(TEXTS)),
)


@settings(max_examples=400, deadline=None)
@given(conditions=st.lists(CONDITIONS, max_size=3), rows=ROWS)
def test_the_columnar_mask_the_batch_mask_and_contains_agree(conditions, rows):
    s = Slice.of(conditions)
    one_by_one = [s.contains(features, attributes) for features, attributes in rows]
    assert s.mask(rows).tolist() == one_by_one
    assert s.mask(Table.of(rows)).tolist() == one_by_one
    for condition in s.conditions:
        assert condition.mask(Table.of(rows)).tolist() == [condition.holds(f, a) for f, a in rows]
