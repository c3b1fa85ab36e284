"""How far one stage is behind its inputs: what a ``stage.lag`` record says, kept by the stage itself.

A stage notes each message it has processed (``processed``); on a timer it is asked for a
record, given the end offsets of the input partitions its process owns. Messages behind are
counted from the last offset it processed in each partition (the committed position before
the first). Delays are measured from the message's Kafka timestamp, so a stage's delay is its
own hop: the time its input waited plus the time it took.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from typing import Any

TopicPartition = tuple[str, int]

WORKER = f"{socket.gethostname()}:{os.getpid()}"
"""How a process names itself in ``stage.lag``."""


class StageLag:
    """The lag of one stage in this process.

    >>> lag = StageLag("join")
    >>> lag.processed("in", 0, offset=9, timestamp_ms=1_000, now_ms=1_400)
    >>> record = lag.record({("in", 0): 15}, now_ms=2_000)
    >>> record["messages_behind"], record["processed"], record["delay_max_ms"], record["newest_age_ms"]
    (5, 1, 400, 1000)
    >>> lag.record({("in", 0): 15}, now_ms=3_000)["delay_max_ms"] is None
    True
    """

    def __init__(self, stage: str) -> None:
        self.stage = stage
        self.offsets: dict[TopicPartition, int] = {}
        self.count = 0
        self.delay_max_ms: int | None = None
        self.newest_ms: int | None = None

    def processed(self, topic: str, partition: int, offset: int, timestamp_ms: int | None, now_ms: int) -> None:
        """Note one processed message (``timestamp_ms`` None: the message carries no timestamp)."""
        tp = (topic, partition)
        if offset > self.offsets.get(tp, -1):
            self.offsets[tp] = offset
        self.count += 1
        if timestamp_ms is not None and timestamp_ms > 0:
            delay = max(0, now_ms - timestamp_ms)
            self.delay_max_ms = delay if self.delay_max_ms is None else max(self.delay_max_ms, delay)
            self.newest_ms = timestamp_ms if self.newest_ms is None else max(self.newest_ms, timestamp_ms)

    def forget(self) -> None:
        """Forget processed offsets (after a rebalance: the partitions may have moved)."""
        self.offsets = {}

    def next_offset(self, tp: TopicPartition, committed: int | None) -> int | None:
        """The next offset this stage expects in ``tp``: after the last it processed, else ``committed``."""
        return self.offsets[tp] + 1 if tp in self.offsets else committed

    def record(
        self,
        ends: Mapping[TopicPartition, int | None],
        now_ms: int,
        committed: Mapping[TopicPartition, int | None] | None = None,
    ) -> dict[str, Any]:
        """The ``stage.lag`` record for the owned partitions ``ends`` (end offset; None: not known yet).

        ``committed``: the next offset to read of partitions processed nowhere here yet. The
        counters of the interval start again.
        """
        behind = 0
        for tp, end in ends.items():
            expected = self.next_offset(tp, (committed or {}).get(tp))
            if end is not None and expected is not None:
                behind += max(0, end - expected)
        record = {
            "stage": self.stage,
            "worker": WORKER,
            "ts": now_ms,
            "messages_behind": behind,
            "processed": self.count,
            "delay_max_ms": self.delay_max_ms,
            "newest_age_ms": None if self.newest_ms is None else max(0, now_ms - self.newest_ms),
        }
        self.count, self.delay_max_ms = 0, None
        return record
