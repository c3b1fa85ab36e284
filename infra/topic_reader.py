"""Read catalog topics without a consumer group: partitions assigned directly, nothing committed.

Every reader of a whole topic uses this: the gateway's routing table, the demo's live
progress, ``insitu consume``, the workers' reservoir tail, the profiler's profile versions.
Reading is side-effect free, so every copy of a process sees every partition. A reader starts
at the ``"beginning"``, the ``"end"``, or ``depth`` records before the end of each partition
(an int), then follows; ``read_to_end`` stops at the ends the partitions had when it was called.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, IsolationLevel, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import OffsetSpec

from infra.config import Settings
from infra.kafka_clients import admin, consumer
from schemas import Serde, SerializationError

log = logging.getLogger(__name__)

Start = Literal["beginning", "end"] | int


@dataclass(frozen=True)
class Message:
    """One record: ``record`` when it decoded (None for a tombstone), else ``error``."""

    topic: str  # the catalog (logical) name
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    record: dict[str, Any] | None
    error: SerializationError | None


class TopicReader:
    """Reads catalog ``topics`` from ``start``, decoding each value with ``serde``.

    ``open()`` assigns every partition (a missing topic is a ``KafkaException`` saying to
    create it), ``poll()`` returns what arrived, ``read_to_end()`` reads up to the current
    ends, ``close()`` (or a ``with`` block) releases the consumer.
    """

    def __init__(
        self,
        settings: Settings,
        topics: str | Sequence[str],
        *,
        start: Start = "beginning",
        serde: Serde | None = None,
        name: str = "reader",
    ) -> None:
        self.settings = settings
        self.topics = [topics] if isinstance(topics, str) else list(topics)
        self.start = start
        self.serde = serde or Serde.from_settings(settings)
        self.name = name
        self._logical = {settings.topic(t): t for t in self.topics}
        self._consumer: Any = None
        self._admin: Any = None  # kept while its futures are pending: they fail once it is collected
        self._partitions: list[TopicPartition] = []
        self._first: dict[tuple[str, int], int] = {}  # where reading began, for a tail
        self._next: dict[tuple[str, int], int] = {}  # the next offset to read, as far as seen

    def open(self, timeout: float = 30.0) -> TopicReader:
        group = f"insitu-{self.name}-{uuid.uuid4().hex[:12]}"  # never committed; librdkafka wants one
        self._consumer = consumer(self.settings, group, **{"enable.partition.eof": True})
        try:
            for physical in self._logical:
                meta = self._consumer.list_topics(physical, timeout=timeout).topics.get(physical)
                if meta is None or meta.error is not None or not meta.partitions:
                    msg = f"{self.name}: topic {physical} does not exist (run `insitu topics create`)"
                    raise KafkaException(KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART, msg))
                self._partitions += [TopicPartition(physical, p) for p in sorted(meta.partitions)]
            self._consumer.assign(
                [TopicPartition(tp.topic, tp.partition, self._start(tp, timeout)) for tp in self._partitions]
            )
        except BaseException:
            self.close()
            raise
        return self

    def _start(self, tp: TopicPartition, timeout: float) -> int:
        if self.start == "beginning":
            return OFFSET_BEGINNING
        if self.start == "end":
            return OFFSET_END
        if not self._first:  # a tail: ``start`` records before each end, within what the log still holds
            lows, highs = self._offsets(OffsetSpec.earliest(), timeout), self._offsets(OffsetSpec.latest(), timeout)
            self._first = {key: max(lows[key], highs[key] - self.start) for key in highs}
        return self._first[(tp.topic, tp.partition)]

    def poll(self, timeout: float = 0.5, max_messages: int = 500) -> list[Message]:
        """The records that arrived within ``timeout`` (at most ``max_messages``)."""
        if self._consumer is None:
            msg = f"{self.name}: TopicReader.open() was not called"
            raise RuntimeError(msg)
        out = []
        for message in self._consumer.consume(num_messages=max_messages, timeout=timeout):
            physical, partition, offset = message.topic() or "", message.partition() or 0, message.offset() or 0
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    self._next[(physical, partition)] = max(offset, self._next.get((physical, partition), 0))
                elif error.fatal():
                    raise KafkaException(error)
                else:
                    log.warning("%s: consumer error on %s: %s", self.name, physical, error)
                continue
            self._next[(physical, partition)] = offset + 1
            out.append(self._decoded(message, physical, partition, offset))
        return out

    def _decoded(self, message: Any, physical: str, partition: int, offset: int) -> Message:
        topic, value = self._logical[physical], message.value()
        record = error = None
        if value is not None:
            try:
                record = self.serde.decode(topic, value, partition=partition, offset=offset)
            except SerializationError as exc:
                error = exc
        return Message(topic, partition, offset, message.key(), value, record, error)

    def ends(self, timeout: float = 30.0) -> dict[tuple[str, int], int]:
        """Each partition's end offset now (the last stable offset: what a read-committed reader can reach)."""
        return self._offsets(OffsetSpec.latest(), timeout)

    def _offsets(self, spec: OffsetSpec, timeout: float) -> dict[tuple[str, int], int]:
        """One ListOffsets request for every partition, asked again while a new topic's leaders are elected."""
        if self._admin is None:
            self._admin = admin(self.settings)
        query = {TopicPartition(tp.topic, tp.partition): spec for tp in self._partitions}
        deadline = time.monotonic() + timeout
        while True:
            answers = self._admin.list_offsets(
                query, isolation_level=IsolationLevel.READ_COMMITTED, request_timeout=timeout
            )
            try:
                return {(tp.topic, tp.partition): f.result(timeout).offset for tp, f in answers.items()}
            except KafkaException as exc:  # e.g. NOT_LEADER_FOR_PARTITION right after the topic was made
                if exc.args[0].fatal() or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def reached(self, ends: dict[tuple[str, int], int]) -> bool:
        """Whether every partition was read up to ``ends`` (a partition with nothing to read counts)."""
        return all(self._next.get(tp, self._first.get(tp, 0)) >= end for tp, end in ends.items() if end > 0)

    def read_to_end(self, timeout: float | None = None) -> Iterator[Message]:
        """The records up to the ends the partitions have now; ``TimeoutError`` if not there in ``timeout``."""
        ends = self.ends()
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.reached(ends):
            if deadline is not None and time.monotonic() > deadline:
                behind = sorted(f"{t}[{p}]" for (t, p), end in ends.items() if self._next.get((t, p), 0) < end)
                msg = f"{self.name}: not read to the end within {timeout:.0f}s: {', '.join(behind)}"
                raise TimeoutError(msg)
            yield from self.poll(timeout=0.2)

    def close(self) -> None:
        self._admin = None
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None

    def __enter__(self) -> TopicReader:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_all(settings: Settings, topic: str, *, timeout: float = 30.0, serde: Serde | None = None) -> list[Message]:
    """Every record of catalog ``topic`` now, from the beginning."""
    with TopicReader(settings, topic, serde=serde, name="read-all") as reader:
        return list(reader.read_to_end(timeout))
