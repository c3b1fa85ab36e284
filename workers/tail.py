"""Follow the recent end of a topic without a consumer group: what fills a worker's reservoir.

Every partition is read from ``depth`` messages before its end, then followed. Nothing
is committed, so each copy of a worker sees the whole topic (every route), and a
restart re-reads the recent tail instead of starting empty. Undecodable records are
skipped with a warning: the analytics sink, which consumes the same topic in its
group, already dead-letters them once.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from confluent_kafka import KafkaError, KafkaException, TopicPartition

from infra.config import Settings
from infra.kafka_clients import consumer
from schemas import Serde, SerializationError

log = logging.getLogger(__name__)


class TailReader:
    """Reads logical ``topic`` from its tail and hands each decoded record to ``on_record``.

    ``start()`` assigns the partitions, ``poll()`` reads what is there, ``catch_up()``
    reads until every partition is at the end it had when called.
    """

    def __init__(
        self,
        settings: Settings,
        topic: str,
        *,
        depth: int,
        on_record: Callable[[dict[str, Any]], None],
        serde: Serde,
        name: str,
    ) -> None:
        self.settings = settings
        self.topic = topic
        self.physical = settings.topic(topic)
        self.depth = depth
        self.on_record = on_record
        self.serde = serde
        self.name = name
        self.read = 0
        self.skipped = 0
        self._consumer: Any = None
        self._partitions: list[int] = []
        self._start: dict[int, int] = {}

    def start(self, timeout: float = 30.0) -> None:
        group = f"{self.name}-tail-{uuid.uuid4().hex[:12]}"  # never committed; librdkafka wants one anyway
        self._consumer = consumer(self.settings, group, **{"enable.partition.eof": True})
        meta = self._consumer.list_topics(self.physical, timeout=timeout).topics.get(self.physical)
        if meta is None or meta.error is not None:
            msg = f"{self.name}: topic {self.physical} does not exist (run `insitu topics create`)"
            raise KafkaException(KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART, msg))
        self._partitions = sorted(meta.partitions)
        assignment = []
        for p in self._partitions:
            low, high = self._consumer.get_watermark_offsets(TopicPartition(self.physical, p), timeout=timeout)
            self._start[p] = max(low, high - self.depth)
            assignment.append(TopicPartition(self.physical, p, self._start[p]))
        self._consumer.assign(assignment)

    def poll(self, timeout: float = 0.0, max_messages: int = 500) -> int:
        """Read what is available (waiting at most ``timeout``); returns the records handed on."""
        if self._consumer is None:
            msg = f"{self.name}: TailReader.start() was not called"
            raise RuntimeError(msg)
        handed = 0
        for message in self._consumer.consume(num_messages=max_messages, timeout=timeout):
            error = message.error()
            if error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    if error.fatal():
                        raise KafkaException(error)
                    log.warning("%s: consumer error on %s: %s", self.name, self.physical, error)
                continue
            try:
                record = self.serde.decode(
                    self.topic, message.value(), partition=message.partition(), offset=message.offset()
                )
            except SerializationError as exc:
                self.skipped += 1
                log.warning("%s: skipped an undecodable record: %s", self.name, exc)
                continue
            self.on_record(record)
            handed += 1
        self.read += handed
        return handed

    def catch_up(self, timeout: float) -> bool:
        """Read until every partition reaches the end it has now; False if ``timeout`` passed first."""
        deadline = time.monotonic() + timeout
        targets = {}
        for p in self._partitions:
            _, high = self._consumer.get_watermark_offsets(
                TopicPartition(self.physical, p), timeout=max(1.0, timeout), cached=False
            )
            targets[p] = high
        while True:
            positions = self._consumer.position([TopicPartition(self.physical, p) for p in self._partitions])
            behind = [
                tp.partition
                for tp in positions
                if targets[tp.partition] > self._start[tp.partition]  # something to read at all
                and (tp.offset < 0 or tp.offset < targets[tp.partition])  # < 0: nothing fetched yet
            ]
            if not behind:
                return True
            if time.monotonic() > deadline:
                log.warning(
                    "%s: %s not read to its end within %.0fs (partitions %s)", self.name, self.physical, timeout, behind
                )
                return False
            self.poll(timeout=0.2)

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None
