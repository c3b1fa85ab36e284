"""Validate JSON lines and produce them as framed Avro: what ``insitu produce`` does."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from confluent_kafka import KafkaError, Message, Producer

from infra.topics import message_key
from schemas import Serde, SerializationError


@dataclass
class ProduceReport:
    produced: int = 0
    rejected: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    delivery_errors: Counter[str] = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        return not self.rejected and not self.failed


def produce_lines(
    lines: Iterable[str],
    topic: str,
    *,
    physical_topic: str,
    producer: Producer,
    serde: Serde,
    flush_timeout: float = 30.0,
) -> ProduceReport:
    """Produce every valid line; report each invalid one by line number, field and problem.

    A line is validated and encoded whole before anything is sent, so an
    invalid line produces nothing. Blank lines are skipped.
    """
    report = ProduceReport()

    def delivered(err: KafkaError | None, msg: Message) -> None:
        if err is None:
            report.produced += 1
        else:
            report.delivery_errors[err.str()] += 1

    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            report.rejected.append(f"line {number}: invalid JSON: {exc.msg} at column {exc.colno}")
            continue
        try:
            record = serde.from_json(topic, value)
            data = serde.encode(topic, record)
        except SerializationError as exc:
            report.rejected.append(f"line {number}: {exc.detail}")
            continue
        _send(producer, physical_topic, message_key(topic, record), data, delivered)
    remaining = producer.flush(flush_timeout)
    for error, count in report.delivery_errors.items():
        report.failed.append(f"{physical_topic}: {count} message(s) not delivered: {error}")
    if remaining:
        report.failed.append(f"{physical_topic}: {remaining} message(s) not delivered within {flush_timeout:.0f}s")
    return report


DeliveryCallback = Callable[[KafkaError | None, Message], None]


def _send(producer: Producer, topic: str, key: bytes | None, value: bytes, callback: DeliveryCallback) -> None:
    while True:
        try:
            producer.produce(topic, value=value, key=key, on_delivery=callback)
            break
        except BufferError:  # local queue full: serve delivery reports, then retry
            producer.poll(0.5)
    producer.poll(0)
