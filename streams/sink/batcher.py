"""A batching buffer: rows per table plus the Kafka offsets they cover; due at N rows or T seconds.

The buffer only holds; it never writes. The runner takes a ``Batch`` when it is due,
hands it to the writer (the one place that writes) and commits ``Batch.offsets`` after
the write succeeded.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a row came from: the Kafka position and the original bytes (for a dead letter)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: datetime


class Entry(NamedTuple):
    """One row for a table, with the message it came from."""

    row: Row
    origin: Origin


@dataclass
class Batch:
    """What a flush writes: entries per table, and per (topic, partition) the next offset to commit."""

    tables: dict[str, list[Entry]] = field(default_factory=dict)
    offsets: dict[tuple[str, int], int] = field(default_factory=dict)
    messages: int = 0

    @property
    def rows(self) -> int:
        return sum(len(entries) for entries in self.tables.values())

    def counts(self) -> dict[str, int]:
        """Rows per table."""
        return {table: len(entries) for table, entries in self.tables.items()}


class Batcher:
    """Buffers rows until ``max_rows`` rows are held or ``max_seconds`` passed since the first message.

    A message that yields no rows still counts (its offset must be committed), so it
    starts the clock too. ``clock`` is injectable for tests.

    >>> now = [0.0]
    >>> batcher = Batcher(max_rows=2, max_seconds=1.0, clock=lambda: now[0])
    >>> from datetime import UTC
    >>> origin = Origin("t", 0, 5, None, b"v", datetime.now(UTC))
    >>> batcher.add(origin, [("table", {"a": 1})])
    >>> batcher.due()
    False
    >>> now[0] = 1.0
    >>> batcher.due()
    True
    >>> batch = batcher.take()
    >>> batch.counts(), batch.offsets, batcher.messages
    ({'table': 1}, {('t', 0): 6}, 0)
    """

    def __init__(self, max_rows: int, max_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        if max_rows < 1 or max_seconds <= 0:
            msg = f"need max_rows >= 1 and max_seconds > 0, got {max_rows} and {max_seconds}"
            raise ValueError(msg)
        self.max_rows = max_rows
        self.max_seconds = max_seconds
        self._clock = clock
        self._batch = Batch()
        self._started: float | None = None

    @property
    def rows(self) -> int:
        return self._batch.rows

    @property
    def messages(self) -> int:
        return self._batch.messages

    def add(self, origin: Origin, rows: Iterable[tuple[str, Row]]) -> None:
        """Buffer the rows of one message; record its offset as processed."""
        if self._started is None:
            self._started = self._clock()
        for table, row in rows:
            self._batch.tables.setdefault(table, []).append(Entry(row, origin))
        key = (origin.topic, origin.partition)
        self._batch.offsets[key] = max(self._batch.offsets.get(key, 0), origin.offset + 1)
        self._batch.messages += 1

    def seconds_left(self) -> float | None:
        """Seconds until the time limit makes a flush due; ``None`` while empty."""
        if self._started is None:
            return None
        return max(0.0, self._started + self.max_seconds - self._clock())

    def due(self) -> bool:
        """Whether the buffer should be flushed now: enough rows, or held long enough."""
        if self._batch.rows >= self.max_rows:
            return True
        left = self.seconds_left()
        return left is not None and left <= 0

    def take(self) -> Batch:
        """Everything buffered, leaving the buffer empty."""
        batch, self._batch, self._started = self._batch, Batch(), None
        return batch
