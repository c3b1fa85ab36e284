"""A correction to faust-streaming 0.15.3 that exactly-once recovery needs.

Under ``processing_guarantee="exactly_once"`` Faust reads changelog highwaters from
``last_stable_offset``, which aiokafka only knows for partitions it has already fetched;
before that it is ``None``, Faust turns it into -1, and table recovery after a rebalance
either stops at once (tables come back empty) or fails its consistency check. The end
offset the broker reports for a read-committed consumer *is* the last stable offset, so
ask the broker whenever the cached value is missing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

_original = AIOKafkaConsumerThread._highwaters


async def _highwaters(self: Any, partitions: list[Any]) -> Mapping[Any, int]:
    consumer = self._ensure_consumer()
    if not self.consumer.in_transaction:
        return await _original(self, partitions)
    cached = {tp: consumer.last_stable_offset(tp) for tp in partitions}
    missing = [tp for tp, offset in cached.items() if offset is None]
    if missing:
        cached.update(await consumer.end_offsets(missing))
    return cached


def apply() -> None:
    AIOKafkaConsumerThread._highwaters = _highwaters  # type: ignore[method-assign]
