"""The batching buffer: due at N rows or T seconds, whichever first, on an injected clock."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from streams.sink.batcher import Batcher, Origin


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def origin(offset: int, partition: int = 0, topic: str = "t.joined.events") -> Origin:
    return Origin(topic, partition, offset, b"k", b"v", datetime(2026, 1, 1, tzinfo=UTC))


def test_due_at_max_rows_before_the_time_limit() -> None:
    clock = Clock()
    batcher = Batcher(max_rows=3, max_seconds=10.0, clock=clock)
    batcher.add(origin(0), [("a", {"n": 0}), ("b", {"n": 0})])
    assert not batcher.due()
    batcher.add(origin(1), [("a", {"n": 1})])
    assert batcher.due() and batcher.rows == 3 and batcher.messages == 2
    batch = batcher.take()
    assert batch.counts() == {"a": 2, "b": 1} and batch.rows == 3 and batch.messages == 2
    assert [entry.row for entry in batch.tables["a"]] == [{"n": 0}, {"n": 1}]
    assert batch.tables["b"][0].origin == origin(0)
    assert (batcher.rows, batcher.messages, batcher.due(), batcher.seconds_left()) == (0, 0, False, None)


def test_due_after_max_seconds_since_the_first_message() -> None:
    clock = Clock()
    batcher = Batcher(max_rows=1000, max_seconds=1.0, clock=clock)
    assert batcher.seconds_left() is None
    clock.now += 50  # an idle buffer never becomes due
    assert not batcher.due()
    batcher.add(origin(0), [("a", {})])
    clock.now += 0.6
    batcher.add(origin(1), [("a", {})])  # later messages do not restart the clock
    assert batcher.seconds_left() == pytest.approx(0.4)
    assert not batcher.due()
    clock.now += 0.4
    assert batcher.due() and batcher.seconds_left() == 0.0
    batcher.take()
    batcher.add(origin(2), [("a", {})])
    assert batcher.seconds_left() == pytest.approx(1.0)  # the next batch has a clock of its own


def test_a_message_without_rows_still_counts_and_is_committed() -> None:
    clock = Clock()
    batcher = Batcher(max_rows=10, max_seconds=1.0, clock=clock)
    batcher.add(origin(7), [])
    clock.now += 1.0
    assert batcher.due()
    batch = batcher.take()
    assert (batch.rows, batch.messages, batch.offsets) == (0, 1, {("t.joined.events", 0): 8})


def test_offsets_are_the_next_offset_per_topic_partition() -> None:
    batcher = Batcher(max_rows=100, max_seconds=1.0, clock=Clock())
    for offset, partition, topic in [(4, 0, "x"), (9, 1, "x"), (5, 0, "x"), (2, 0, "y"), (8, 1, "x")]:
        batcher.add(origin(offset, partition, topic), [("a", {})])
    assert batcher.take().offsets == {("x", 0): 6, ("x", 1): 10, ("y", 0): 3}


@pytest.mark.parametrize(("rows", "seconds"), [(0, 1.0), (10, 0.0), (10, -1.0)])
def test_limits_must_be_positive(rows: int, seconds: float) -> None:
    with pytest.raises(ValueError, match="max_rows"):
        Batcher(max_rows=rows, max_seconds=seconds)
