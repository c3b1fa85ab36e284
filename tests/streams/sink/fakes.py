"""Stand-ins for the ClickHouse client and the Kafka consumer, for the sink's pure logic only.

The real broker and the real engine are exercised in ``test_sink_process.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from clickhouse_connect.driver import exceptions as ch_errors
from confluent_kafka import TIMESTAMP_CREATE_TIME, TopicPartition

Events = list[tuple[Any, ...]]


class FakeClient:
    """Records inserts in ``events``; consults the queued ``failures`` first (an exception, or None to go
    through), and raises DataError for ``bad`` rows."""

    def __init__(
        self, events: Events, failures: list[Exception | None] | None = None, bad: Callable[[dict], bool] | None = None
    ):
        self.events = events
        self.failures = failures if failures is not None else []
        self.bad = bad or (lambda row: False)
        self.closed = False

    def insert(self, table: str, data: list[list[Any]], column_names: list[str]) -> None:
        if self.failures:
            failure = self.failures.pop(0)
            if failure is not None:  # None: this insert goes through
                raise failure
        rows = [dict(zip(column_names, values, strict=True)) for values in data]
        if any(self.bad(row) for row in rows):
            msg = f"Unable to create native array for column of {table}"
            raise ch_errors.DataError(msg)
        self.events.append(("insert", table, rows))

    def close(self) -> None:
        self.closed = True


class Opener:
    """``open_client`` for ``ClickHouseWriter``: hands out one ``FakeClient`` per (re)connection."""

    def __init__(
        self, events: Events, failures: list[Exception | None] | None = None, bad: Callable[[dict], bool] | None = None
    ):
        self.events = events
        self.failures = failures if failures is not None else []  # shared by every client: failures in sequence
        self.bad = bad
        self.opened = 0

    def __call__(self) -> Any:  # a FakeClient standing in for clickhouse_connect's Client
        self.opened += 1
        return FakeClient(self.events, self.failures, self.bad)


class FakeMessage:
    def __init__(self, topic: str, partition: int, offset: int, key: bytes | None, value: bytes | None, ts_ms: int):
        self._fields = (topic, partition, offset, key, value)
        self._ts = ts_ms

    def error(self) -> None:
        return None

    def topic(self) -> str:
        return self._fields[0]

    def partition(self) -> int:
        return self._fields[1]

    def offset(self) -> int:
        return self._fields[2]

    def key(self) -> bytes | None:
        return self._fields[3]

    def value(self) -> bytes | None:
        return self._fields[4]

    def timestamp(self) -> tuple[int, int]:
        return TIMESTAMP_CREATE_TIME, self._ts


class FakeConsumer:
    """Hands out the queued messages once; records commits in ``events``."""

    def __init__(self, events: Events, messages: list[FakeMessage]):
        self.events = events
        self.messages = list(messages)
        self.subscribed: list[str] = []
        self.closed = False
        self.ends: dict[tuple[str, int], int] = {}  # the high watermark of each assigned partition, as fetched

    def subscribe(self, topics: list[str], **callbacks: Any) -> None:
        self.subscribed = topics

    def consume(self, num_messages: int = 1, timeout: float = -1) -> list[FakeMessage]:
        out, self.messages = self.messages[:num_messages], self.messages[num_messages:]
        return out

    def commit(self, offsets: list[TopicPartition], asynchronous: bool = True) -> None:
        assert asynchronous is False
        self.events.append(("commit", {(tp.topic, tp.partition): tp.offset for tp in offsets}))

    def assignment(self) -> list[TopicPartition]:
        return [TopicPartition(topic, partition) for topic, partition in self.ends]

    def get_watermark_offsets(self, tp: TopicPartition, cached: bool = False) -> tuple[int, int]:
        return 0, self.ends[(tp.topic, tp.partition)]

    def position(self, partitions: list[TopicPartition]) -> list[TopicPartition]:
        return [TopicPartition(tp.topic, tp.partition, -1001) for tp in partitions]  # nothing consumed yet

    def close(self) -> None:
        self.closed = True
