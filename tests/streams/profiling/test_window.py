"""Event windows: bounded, clearable, column views with gaps; route windows and peers."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from schemas.slices import Columns, Condition, Slice
from streams.profiling.window import EventWindow, Frame, RouteWindows


def record(instance: str, version: int = 1, *, correct: bool = True, **features: float) -> dict:
    return {
        "instance_id": instance,
        "model_version": version,
        "features": features,
        "attributes": {"region": "north"} if correct else {},
        "label": "a",
        "prediction": "a" if correct else "b",
        "correct": correct,
        "inference_ts": datetime(2026, 1, 1, tzinfo=UTC),
    }


def test_window_keeps_the_last_events_and_fills_gaps():
    window = EventWindow(max_events=3)
    for i in range(5):
        window.add(
            {"x": float(i)} if i != 3 else {"y": 1.0}, {"c": "u"} if i % 2 else {}, label="a", prediction="a", ts=i
        )
    frame = window.frame()
    assert len(window) == 3 and window.added == 5
    assert frame.numeric["x"][[0, 2]].tolist() == [2.0, 4.0] and np.isnan(frame.numeric["x"][1])
    assert np.isnan(frame.numeric["y"][[0, 2]]).all() and frame.numeric["y"][1] == 1.0
    assert frame.categorical["c"].tolist() == [None, "u", None]
    assert frame.ts.tolist() == [2, 3, 4] and frame.correct.all()


def test_frame_is_cached_until_the_window_changes():
    window = EventWindow()
    window.add({"x": 1.0}, {}, label="a", prediction="b", ts=0)
    first = window.frame()
    assert window.frame() is first
    window.add({"x": 2.0}, {}, label="a", prediction="a", ts=1)
    assert window.frame() is not first and first.errors.tolist() == [True]


def test_clear_starts_over_and_is_described():
    window = EventWindow()
    window.add_record(record("i", x=1.0))
    window.clear(ts=1_767_225_600_000)
    assert len(window) == 0 and window.added == 0 and window.since_ts == 1_767_225_600_000
    window.add_record(record("i", x=1.0))
    assert "post-drift data only since 2026-01-01T00:00:00.000Z" in window.describe()


def test_add_record_reads_decoded_and_raw_timestamps():
    window = EventWindow()
    window.add_record(record("i", x=1.0))
    window.add_record(dict(record("i", x=2.0), inference_ts=5))
    assert window.frame().ts.tolist() == [1_767_225_600_000, 5]


def test_invalid_size_is_rejected():
    with pytest.raises(ValueError, match="max_events"):
        EventWindow(0)


def test_route_peers_pool_the_other_instances_latest_versions():
    route = RouteWindows("credit", max_events=10)
    route.add_record(record("a", x=1.0))
    route.add_record(record("b", 1, correct=False, x=2.0))
    route.add_record(record("b", 2, x=3.0))
    route.add_record(record("c", x=4.0, z=1.0))
    peers = route.peers("a")
    assert sorted(peers.numeric["x"].tolist()) == [3.0, 4.0]  # b by its latest version, c; never a itself
    assert np.isnan(peers.numeric["z"]).sum() == 1
    assert len(route.peers("zzz")) == 3  # every instance, each by its latest version


def test_route_keeps_at_most_max_versions_per_instance():
    route = RouteWindows("credit", max_versions=2)
    for version in (1, 2, 3):
        route.add_record(record("a", version, x=1.0))
    assert sorted(route.keys) == [("a", 2), ("a", 3)]


def test_concat_of_nothing_is_empty():
    assert len(Frame.concat([])) == 0


def test_a_frame_is_the_columns_a_slice_masks():
    window = EventWindow()
    rows = [({"n": 3.0, "x": 1.0}, {"c": "u"}), ({"n": 2.5}, {}), ({"x": float("nan")}, {"n": "3"}), ({}, {"c": "v"})]
    for features, attributes in rows:
        window.add(features, attributes, label="a", prediction="a", ts=0)
    frame = window.frame()
    assert isinstance(frame, Columns)
    for s in (
        Slice.of([Condition("n", value="3")]),
        Slice.of([Condition("n", value="2.5"), Condition("c", value="u")]),
        Slice.of([Condition("x", low=0.0)]),
    ):
        assert s.mask(frame).tolist() == [s.contains(f, a) for f, a in rows]
