"""Read a topic and decode each value: what ``insitu consume`` does."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Consumer, KafkaError, KafkaException, TopicPartition

from schemas import Serde, SerializationError


@dataclass(frozen=True)
class Decoded:
    """One message: either ``record`` or ``error`` is set."""

    partition: int
    offset: int
    key: bytes | None
    record: dict[str, Any] | None
    error: SerializationError | None


def read_topic(
    consumer: Consumer,
    topic: str,
    *,
    physical_topic: str,
    serde: Serde,
    from_beginning: bool,
    follow: bool,
    max_messages: int | None = None,
    idle_timeout: float | None = None,
    metadata_timeout: float = 10.0,
) -> Iterator[Decoded]:
    """Yield decoded messages from every partition of ``physical_topic``.

    The consumer is assigned partitions directly (no group offsets are
    committed: reading is side-effect free). Without ``follow`` it stops when
    every partition has reached its end. Undecodable values are yielded with
    ``error`` set; they never stop the loop.
    """
    meta = consumer.list_topics(physical_topic, timeout=metadata_timeout).topics.get(physical_topic)
    if meta is None or meta.error is not None:
        problem = f"topic {physical_topic} does not exist (run `insitu topics create`)"
        raise KafkaException(KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART, problem))
    start = OFFSET_BEGINNING if from_beginning else OFFSET_END
    partitions = [TopicPartition(physical_topic, p, start) for p in sorted(meta.partitions)]
    consumer.assign(partitions)
    pending = set() if follow else _unfinished(consumer, partitions, from_beginning)
    seen = 0
    last_message = time.monotonic()
    while (follow or pending) and (max_messages is None or seen < max_messages):
        msg = consumer.poll(0.5)
        if msg is None:
            if idle_timeout is not None and time.monotonic() - last_message > idle_timeout:
                return
            continue
        error = msg.error()
        if error is not None:
            if error.code() == KafkaError._PARTITION_EOF:
                pending.discard(msg.partition() or 0)
                continue
            raise KafkaException(error)
        last_message = time.monotonic()
        seen += 1
        partition, offset = msg.partition() or 0, msg.offset() or 0
        try:
            record = serde.decode(topic, msg.value(), partition=partition, offset=offset)
            yield Decoded(partition, offset, msg.key(), record, None)
        except SerializationError as exc:
            yield Decoded(partition, offset, msg.key(), None, exc)


def _unfinished(consumer: Consumer, partitions: list[TopicPartition], from_beginning: bool) -> set[int]:
    """Partitions that still hold messages to read (needs ``enable.partition.eof``)."""
    if not from_beginning:
        return set()
    pending = set()
    for tp in partitions:
        low, high = consumer.get_watermark_offsets(tp, timeout=10.0)
        if high > low:
            pending.add(tp.partition)
    return pending
