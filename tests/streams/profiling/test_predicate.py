"""Predicates: masks, missing values, descriptions, record round trips."""

from __future__ import annotations

import numpy as np

from streams.profiling.predicate import Condition, Predicate, jaccard
from streams.profiling.window import Frame


def frame() -> Frame:
    x = np.array([1.0, 2.0, 3.0, np.nan])
    region = np.array(["n", "s", None, "n"], dtype=object)
    labels = np.array(["a"] * 4, dtype=object)
    return Frame({"x": x}, {"region": region}, labels, labels, np.ones(4, bool), np.zeros(4, np.int64))


def test_numeric_interval_is_closed_open_and_missing_is_outside():
    f = frame()
    assert Condition("x", 2.0, 3.0).mask(f).tolist() == [False, True, False, False]
    assert Condition("x", low=2.0).mask(f).tolist() == [False, True, True, False]
    assert Condition("x", high=2.0).mask(f).tolist() == [True, False, False, False]
    assert Condition("nope", low=0.0).mask(f).tolist() == [False] * 4


def test_categorical_value_and_conjunction():
    f = frame()
    assert Condition("region", value="n").mask(f).tolist() == [True, False, False, True]
    assert Condition("missing", value="n").mask(f).tolist() == [False] * 4
    p = Predicate.of([Condition("region", value="n"), Condition("x", high=2.5)])
    assert p.mask(f).tolist() == [True, False, False, False]
    assert p.describe() == "region == n and x < 2.5"


def test_one_condition_per_feature_and_editing():
    p = Predicate.of([Condition("x", low=1.0), Condition("x", low=2.0), Condition("a", value="v")])
    assert p.features == ["a", "x"] and p.get("x") == Condition("x", low=2.0)
    assert p.without("a").features == ["x"]
    assert p.replace(Condition("x", high=5.0)).get("x") == Condition("x", high=5.0)


def test_records_round_trip_and_match_the_schema_fields():
    p = Predicate.of([Condition("age", 25.0, 45.0), Condition("region", value="east")])
    records = p.to_records()
    assert records[0] == {"feature": "age", "low": 25.0, "high": 45.0, "value": None}
    assert Predicate.from_records(records) == p
    assert Predicate.from_records([{"feature": "age", "low": 25}]).get("age") == Condition("age", 25.0)


def test_jaccard():
    a = np.array([True, True, False, False])
    b = np.array([False, True, True, False])
    assert jaccard(a, b) == 1 / 3 and jaccard(a, a) == 1.0 and jaccard(~(a | b), np.zeros(4, bool)) == 0.0
    assert jaccard(np.zeros(2, bool), np.zeros(2, bool)) == 0.0
