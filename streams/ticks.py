"""Ticks: a small internal topic that wakes each partition's agent when its input is idle.

Expiring table entries must happen inside stream processing of the entry's partition
(Faust writes a table change to the partition of the event being processed), so a timer
sends one tick to every partition of a tick topic co-partitioned with the input.
"""

from __future__ import annotations

from typing import Any

from confluent_kafka import Producer

from infra.kafka_clients import producer
from streams.config import StreamSettings


class Ticker:
    """Sends ``b"tick"`` to every partition of ``topic`` (a plain producer: ticks need no transaction)."""

    def __init__(self, settings: StreamSettings, topic: str, partitions: int) -> None:
        self._settings = settings
        self._topic = topic
        self._partitions = partitions
        self._producer: Producer | None = None

    def tick(self) -> None:
        if self._producer is None:
            self._producer = producer(self._settings, **{"linger.ms": 0})
        for partition in range(self._partitions):
            self._produce(partition)
        self._producer.poll(0)

    def _produce(self, partition: int) -> None:
        assert self._producer is not None
        self._producer.produce(self._topic, value=b"tick", partition=partition, on_delivery=_ignore_delivery)


def _ignore_delivery(err: Any, msg: Any) -> None:
    """A lost tick only delays expiry until the next one."""
