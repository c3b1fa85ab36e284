"""Ticks: a small internal topic that wakes each partition's agent when its input is idle.

Expiring table entries must happen inside stream processing of the entry's partition
(Faust writes a table change to the partition of the event being processed), so a timer
sends one tick to every partition of a tick topic co-partitioned with the input.
"""

from __future__ import annotations

from typing import Any

from infra.kafka_clients import LazyProducer
from streams.config import StreamSettings


class Ticker:
    """Sends ``b"tick"`` to every partition of ``topic`` (a plain producer: ticks need no transaction)."""

    def __init__(self, settings: StreamSettings, topic: str, partitions: int) -> None:
        self._settings = settings
        self._topic = topic
        self._partitions = partitions
        self._producer = LazyProducer(settings, **{"linger.ms": 0})

    def tick(self) -> None:
        kafka = self._producer.get()
        for partition in range(self._partitions):
            kafka.produce(self._topic, value=b"tick", partition=partition, on_delivery=_ignore_delivery)
        kafka.poll(0)


def _ignore_delivery(err: Any, msg: Any) -> None:
    """A lost tick only delays expiry until the next one."""
