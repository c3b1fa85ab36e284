"""The thin Kafka loop both workers run: decode, hand to a plain handler, produce, then commit.

At-least-once: a message's offset is committed only after its outputs are delivered
(or its dead letter is). Undecodable or schema-invalid values, and records a handler
refuses (``Refused``), go to ``deadletter`` with the reason and the original bytes;
an unexpected handler error is dead-lettered as ``processing_error`` and the loop goes on.
An output the broker can never take (larger than ``INSITU_MAX_RECORD_BYTES``, or refused
for the record itself) dead-letters its input as ``too_large`` / ``unsendable`` instead of
being retried; only a broker that is away makes the loop read the message again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, TopicPartition

from infra.config import Settings
from infra.kafka_clients import consumer, producer
from infra.topics import message_key
from schemas import Rejected, Serde, SerializationError
from schemas.deadletters import dead_letter

log = logging.getLogger(__name__)

Output = tuple[str, dict[str, Any]]
"""A record to produce: (catalog topic, record)."""


RECORD_ERRORS = frozenset(
    {
        KafkaError.MSG_SIZE_TOO_LARGE,
        KafkaError.RECORD_LIST_TOO_LARGE,
        KafkaError.INVALID_RECORD,
        KafkaError.INVALID_MSG,
        KafkaError.INVALID_MSG_SIZE,
    }
)
"""Delivery errors that belong to the record, not the broker: sending it again cannot succeed."""


class Refused(Rejected):
    """A well-formed record the worker cannot act on; it goes to ``deadletter`` with ``reason``."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail, reason=reason)


@dataclass
class LoopStats:
    messages: int = 0
    outputs: Counter[str] = field(default_factory=Counter)
    dead_letters: Counter[str] = field(default_factory=Counter)

    def line(self) -> str:
        outs = " ".join(f"{k}={v}" for k, v in sorted(self.outputs.items()))
        dead = " ".join(f"{k}={v}" for k, v in sorted(self.dead_letters.items()))
        return f"messages={self.messages} outputs=({outs}) dead_letters=({dead})"


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
        refused = self._deliver(outputs)
        if refused:  # the broker can never take these: the input goes to deadletter instead
            too_large = any(error.code() == KafkaError.MSG_SIZE_TOO_LARGE for _, error in refused)
            detail = "; ".join(f"{topic}: {error.str()}" for topic, error in refused)
            outputs = [self._letter(message, "too_large" if too_large else "unsendable", f"output refused: {detail}")]
            refused = self._deliver(outputs)
            if refused:
                log.error("%s: the dead letter for %s was refused too; dropped", self.source, _where(message))
                self.stats.dead_letters["unsent"] += 1
        if refused is None:  # not delivered: read the message again after a pause
            tp = TopicPartition(message.topic(), message.partition(), message.offset())
            self._consumer.seek(tp)
            self._stop.wait(self.retry_seconds)
            return
        self._consumer.commit(message=message, asynchronous=False)
        for topic, _, _ in outputs:
            self.stats.outputs[topic] += 1

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
        except Rejected as exc:
            return [self._dead_letter(message, exc.reason, exc.detail)]
        except Exception as exc:  # one bad record must not stop the worker; it is kept in deadletter
            log.exception("%s: handling %s failed", self.source, _where(message))
            return [self._dead_letter(message, "processing_error", f"{type(exc).__name__}: {exc}")]

    def _encoded(self, message: Message, outputs: list[Output]) -> list[tuple[str, bytes | None, bytes]]:
        """The outputs as (topic, key, value); their input's dead letter instead if one does not fit."""
        try:
            encoded = [(t, message_key(t, r), self.serde.encode(t, r)) for t, r in outputs]
        except SerializationError as exc:  # a record this worker built does not fit: a bug, kept in deadletter
            log.exception("%s: an output for %s does not fit its schema", self.source, _where(message))
            encoded = [self._letter(message, "processing_error", f"output does not fit: {exc}")]
        limit = self.settings.max_record_bytes
        for topic, key, value in encoded:
            size = len(key or b"") + len(value)
            if size > limit:
                detail = f"the {topic} record made from it is {size:,} bytes; "
                detail += f"the limit is {limit:,} (INSITU_MAX_RECORD_BYTES)"
                return [self._letter(message, "too_large", detail)]
        return encoded

    def _letter(self, message: Message, reason: str, detail: str) -> tuple[str, bytes | None, bytes]:
        topic, record = self._dead_letter(message, reason, detail)
        return topic, message_key(topic, record), self.serde.encode(topic, record)

    def _dead_letter(self, message: Message, reason: str, detail: str) -> Output:
        self.stats.dead_letters[reason] += 1
        log.warning("%s: dead letter (%s) at %s: %s", self.source, reason, _where(message), detail)
        record = dead_letter(
            topic=message.topic() or "",
            partition=message.partition(),
            offset=message.offset(),
            key=message.key(),
            value=message.value(),
            reason=reason,
            detail=detail,
            source=self.source,
            max_bytes=self.settings.dead_letter_max_bytes,
        )
        return "deadletter", record

    def _deliver(self, outputs: list[tuple[str, bytes | None, bytes]]) -> list[tuple[str, KafkaError]] | None:
        """Produce and wait: the outputs the broker refused for good ([] when all were delivered),
        or None when some were not delivered for a reason that may pass (the message is read again)."""
        refused: list[tuple[str, KafkaError]] = []
        failures: list[str] = []

        def report(err: KafkaError | None, msg: Message) -> None:
            if err is None:
                return
            if err.code() in RECORD_ERRORS:
                refused.append((msg.topic() or "", err))
            else:
                failures.append(f"{msg.topic()}: {err}")

        for topic, key, value in outputs:
            while True:
                try:
                    self._producer.produce(self.settings.topic(topic), key=key, value=value, on_delivery=report)
                    break
                except BufferError:
                    self._producer.poll(0.1)
                except KafkaException as exc:  # refused before it was sent, e.g. larger than message.max.bytes
                    error = exc.args[0]
                    if error.code() not in RECORD_ERRORS:
                        raise
                    refused.append((self.settings.topic(topic), error))
                    break
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
            return None
        return refused

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
