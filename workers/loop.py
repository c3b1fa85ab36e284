"""The thin Kafka loop both workers run: decode, hand to a plain handler, produce, then commit.

At-least-once: a message's offset is committed only after its outputs are delivered
(or its dead letter is). Undecodable or schema-invalid values, and records a handler
refuses (``Refused``), go to ``deadletter`` with the reason and the original bytes;
an unexpected handler error is dead-lettered as ``processing_error`` and the loop goes on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, TopicPartition

from infra.config import Settings
from infra.kafka_clients import consumer, producer
from infra.topics import message_key
from schemas import Serde, SerializationError

log = logging.getLogger(__name__)

Output = tuple[str, dict[str, Any]]
"""A record to produce: (catalog topic, record)."""


class Refused(Exception):
    """A well-formed record the worker cannot act on; it goes to ``deadletter`` with ``reason``."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass
class LoopStats:
    messages: int = 0
    outputs: Counter[str] = field(default_factory=Counter)
    dead_letters: Counter[str] = field(default_factory=Counter)

    def line(self) -> str:
        outs = " ".join(f"{k}={v}" for k, v in sorted(self.outputs.items()))
        dead = " ".join(f"{k}={v}" for k, v in sorted(self.dead_letters.items()))
        return f"messages={self.messages} outputs=({outs}) dead_letters=({dead})"


def dead_letter(
    *,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
    reason: str,
    detail: str,
    source: str,
) -> dict[str, Any]:
    """A ``deadletter`` record (``schemas/avro/deadletter.v1.avsc``)."""
    return {
        "original_topic": topic,
        "original_partition": partition,
        "original_offset": offset,
        "original_key": key,
        "original_value": value,
        "reason": reason,
        "detail": detail,
        "source": source,
        "ts": datetime.now(UTC),
    }


class WorkerLoop:
    """Consumes logical ``topic`` as ``group_id``; ``handler(record)`` returns the outputs of one record.

    ``before`` runs before each message is handled (e.g. read the reservoir's topic to
    its end); ``idle`` runs when no message came within ``poll_seconds``.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        topic: str,
        group_id: str,
        source: str,
        handler: Callable[[dict[str, Any]], list[Output]],
        serde: Serde,
        before: Callable[[], object] | None = None,
        idle: Callable[[], object] | None = None,
        poll_seconds: float = 0.5,
        retry_seconds: float = 5.0,
    ) -> None:
        self.settings = settings
        self.topic = topic
        self.group_id = group_id
        self.source = source
        self.handler = handler
        self.serde = serde
        self.before = before
        self.idle = idle
        self.poll_seconds = poll_seconds
        self.retry_seconds = retry_seconds
        self.stats = LoopStats()
        self._stop = threading.Event()
        self._consumer: Any = None
        self._producer: Any = None

    def stop(self) -> None:
        """Ask ``run()`` to return after the message in hand: safe from a signal handler or another thread."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def start(self) -> None:
        # Handling a message may train a model for minutes: allow long gaps between polls.
        self._consumer = consumer(self.settings, self.group_id, **{"max.poll.interval.ms": 1_800_000})
        self._producer = producer(self.settings)
        self._consumer.subscribe([self.settings.topic(self.topic)])
        log.info("%s consuming %s as %s", self.source, self.settings.topic(self.topic), self.group_id)

    def run(self) -> None:
        """Start, then handle messages until ``stop()``; closes the clients on the way out."""
        if self._consumer is None:
            self.start()
        try:
            while not self._stop.is_set():
                self.poll_once()
        finally:
            self.close()

    def poll_once(self) -> None:
        message = self._consumer.poll(self.poll_seconds)
        if message is None:
            if self.idle is not None:
                self.idle()
            return
        error = message.error()
        if error is not None:
            if error.fatal():
                raise KafkaException(error)
            if error.code() != KafkaError._PARTITION_EOF:
                log.warning("%s: consumer error: %s", self.source, error)
            return
        self.stats.messages += 1
        outputs = self._encoded(message, self._outputs(message))
        if self._deliver(outputs):
            self._consumer.commit(message=message, asynchronous=False)
            for topic, _, _ in outputs:
                self.stats.outputs[topic] += 1
        else:  # not delivered: read the message again after a pause
            tp = TopicPartition(message.topic(), message.partition(), message.offset())
            self._consumer.seek(tp)
            self._stop.wait(self.retry_seconds)

    def _outputs(self, message: Message) -> list[Output]:
        try:
            record = self.serde.decode(
                self.topic, message.value(), partition=message.partition(), offset=message.offset()
            )
        except SerializationError as exc:
            return [self._dead_letter(message, exc.reason, exc.detail)]
        try:
            if self.before is not None:
                self.before()
            return self.handler(record)
        except Refused as exc:
            return [self._dead_letter(message, exc.reason, exc.detail)]
        except Exception as exc:  # one bad record must not stop the worker; it is kept in deadletter
            log.exception("%s: handling %s failed", self.source, _where(message))
            return [self._dead_letter(message, "processing_error", f"{type(exc).__name__}: {exc}")]

    def _encoded(self, message: Message, outputs: list[Output]) -> list[tuple[str, bytes | None, bytes]]:
        try:
            return [(t, message_key(t, r), self.serde.encode(t, r)) for t, r in outputs]
        except SerializationError as exc:  # a record this worker built does not fit: a bug, kept in deadletter
            log.exception("%s: an output for %s does not fit its schema", self.source, _where(message))
            topic, record = self._dead_letter(message, "processing_error", f"output does not fit: {exc}")
            return [(topic, message_key(topic, record), self.serde.encode(topic, record))]

    def _dead_letter(self, message: Message, reason: str, detail: str) -> Output:
        self.stats.dead_letters[reason] += 1
        log.warning("%s: dead letter (%s) at %s: %s", self.source, reason, _where(message), detail)
        record = dead_letter(
            topic=message.topic() or "",
            partition=message.partition() or 0,
            offset=message.offset() or 0,
            key=message.key(),
            value=message.value(),
            reason=reason,
            detail=detail,
            source=self.source,
        )
        return "deadletter", record

    def _deliver(self, outputs: list[tuple[str, bytes | None, bytes]]) -> bool:
        failures: list[str] = []

        def report(err: KafkaError | None, msg: Message) -> None:
            if err is not None:
                failures.append(f"{msg.topic()}: {err}")

        for topic, key, value in outputs:
            while True:
                try:
                    self._producer.produce(self.settings.topic(topic), key=key, value=value, on_delivery=report)
                    break
                except BufferError:
                    self._producer.poll(0.1)
        started = time.monotonic()
        left = self._producer.flush(60.0)
        if left or failures:
            log.error(
                "%s: %d output(s) not delivered after %.1fs (%s); the message will be handled again",
                self.source,
                left + len(failures),
                time.monotonic() - started,
                "; ".join(failures) or "timeout",
            )
            return False
        return True

    def close(self) -> None:
        if self._producer is not None:
            self._producer.flush(30.0)
            self._producer = None
        if self._consumer is not None:
            try:
                self._consumer.close()
            except (KafkaException, RuntimeError) as exc:
                log.warning("%s: closing the consumer failed: %s", self.source, exc)
            self._consumer = None
        log.info("%s stopped: %s", self.source, self.stats.line())


def _where(message: Message) -> str:
    return f"{message.topic()}[{message.partition()}]@{message.offset()}"
