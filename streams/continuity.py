"""Offsets a stream skipped: find them and read them back, so no input is lost across a rebalance.

faust-streaming (0.15.x) drops an event that reaches a stream while its flow control is
suspended around a rebalance, and *acknowledges* it: the offset is committed although no
agent ran on it. ``Continuity`` notices the hole — the next event of the partition is
further on than the one expected — and reads the skipped records back from Kafka with a
plain consumer, so the agent can process them first. After partitions are revoked and
given again, the next offset expected is the later of the group's committed offset (where
a partition another worker had is resumed) and the one after the last this worker
processed (Faust resumes a partition it keeps there, even before committing it). A record
processed twice is fine: every agent using this is idempotent under at-least-once delivery.
Offsets follow one another on topics written without transactions (the router's internal
input). Commit markers of transactional producers leave holes that are no loss; on such
topics give ``window``: holes are looked for only that many seconds after partitions were
revoked and given again, when Faust drops events, so a marker costs a read only then.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

from confluent_kafka import OFFSET_INVALID, KafkaException, TopicPartition

from infra.kafka_clients import consumer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Record:
    """A record read back, shaped like the Faust message fields the agents use."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


class Continuity:
    """Per partition of one topic: the next offset a stream should deliver.

    >>> c = Continuity(settings=None, group="g", topic="t")
    >>> c.expect(0, 5)
    >>> c.gap(0, 5), c.gap(0, 8), c.gap(0, 3)
    (None, range(6, 8), None)
    """

    def __init__(
        self, settings: Any, *, group: str, topic: str, timeout: float = 30.0, window: float | None = None
    ) -> None:
        self._settings = settings
        self._group = group
        self._topic = topic
        self._timeout = timeout
        self._window = window
        self._armed_until = time.monotonic() + window if window is not None else None
        self._next: dict[int, int] = {}
        self._processed: dict[int, int] = {}  # partition -> the offset after the last one seen here

    def forget(self) -> None:
        """Partitions were revoked: read the committed offsets again before expecting anything."""
        self._next.clear()
        if self._window is not None:
            self._armed_until = time.monotonic() + self._window

    def expect(self, partition: int, offset: int) -> None:
        self._next[partition] = offset

    def gap(self, partition: int, offset: int) -> range | None:
        """The offsets skipped before ``offset`` (None if none), and ``offset`` becomes the last seen."""
        expected = self._next.get(partition)
        self._next[partition] = offset + 1
        self._processed[partition] = max(offset + 1, self._processed.get(partition, 0))
        if expected is None or offset <= expected:
            return None  # in order, or a replay after a seek back
        return range(expected, offset)

    async def missing(self, partition: int, offset: int) -> list[Record]:
        """The records a stream skipped before ``offset`` of ``partition``, read back from Kafka.

        Never raises: what cannot be read back in time is logged as lost, so the agent goes on.
        """
        if self._armed_until is not None and time.monotonic() > self._armed_until:
            self.gap(partition, offset)  # keep track, look for nothing
            return []
        loop = asyncio.get_running_loop()
        if partition not in self._next:
            try:
                committed = await loop.run_in_executor(None, self._committed, partition)
            except KafkaException as exc:
                log.warning("%s[%d]: committed offset unreadable, holes not checked: %s", self._topic, partition, exc)
                committed = None
            known = [o for o in (committed, self._processed.get(partition)) if o is not None]
            if known:
                self.expect(partition, max(known))
        skipped = self.gap(partition, offset)
        if skipped is None:
            return []
        log.warning(
            "%s[%d]: offsets %d..%d were skipped by the stream; reading them back",
            self._topic,
            partition,
            skipped.start,
            skipped.stop - 1,
        )
        return await loop.run_in_executor(None, self._read, partition, skipped)

    def _committed(self, partition: int) -> int | None:
        kafka = consumer(self._settings, self._group)
        try:
            (position,) = kafka.committed([TopicPartition(self._topic, partition)], timeout=self._timeout)
        finally:
            kafka.close()
        return None if position.offset == OFFSET_INVALID or position.offset < 0 else position.offset

    def _read(self, partition: int, offsets: range) -> list[Record]:
        kafka = consumer(self._settings, f"insitu-continuity-{uuid.uuid4().hex[:12]}")
        records: list[Record] = []
        try:
            kafka.assign([TopicPartition(self._topic, partition, offsets.start)])
            deadline = time.monotonic() + self._timeout
            while time.monotonic() < deadline:
                message = kafka.poll(0.5)
                if message is None or message.error() is not None:
                    continue
                at = message.offset() or 0
                if at >= offsets.stop:
                    return records
                records.append(Record(self._topic, partition, at, message.key(), message.value()))
                if at == offsets.stop - 1:
                    return records
        finally:
            kafka.close()
        log.error(
            "%s[%d]: skipped offsets %d..%d not read back within %.0fs; %d of them are lost to this agent",
            self._topic,
            partition,
            offsets.start,
            offsets.stop - 1,
            self._timeout,
            len(offsets) - len(records),
        )
        return records


class Continuities:
    """One ``Continuity`` per topic a stream reads, forgotten together when partitions are revoked."""

    def __init__(self, settings: Any, *, group: str, topics: tuple[str, ...], window: float | None = None) -> None:
        self._by_topic = {topic: Continuity(settings, group=group, topic=topic, window=window) for topic in topics}

    def forget(self) -> None:
        for continuity in self._by_topic.values():
            continuity.forget()

    async def missing(self, message: Any) -> list[Record]:
        """The records the stream skipped before ``message`` (a Faust message of one of the topics)."""
        return await self._by_topic[message.topic].missing(message.partition, message.offset)
