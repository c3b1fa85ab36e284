"""Dead letters of the streams worker: the guard every agent runs each record under, and the sender.

No exception raised by one record stops an agent: ``DeadLetters.guard`` runs the record's
work; a ``Rejected`` input goes to ``deadletter`` with its reason, any other exception as
``processing_error`` with the exception, both with the original bytes (cut to
``INSITU_DEAD_LETTER_MAX_BYTES``). A dead letter the topic will not take is counted and
logged, never retried.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from aiokafka.errors import MessageSizeTooLargeError
from faust.exceptions import ProducerSendError

from schemas import Rejected, Serde
from schemas.deadletters import rejected
from streams.app import settings
from streams.topology import deadletter

log = logging.getLogger(__name__)


class Message(Protocol):
    """Where a record came from: a Faust message or a record read back (``streams.continuity.Record``)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...


class DeadLetters:
    """The dead letters of one component (``source``); ``unsent`` counts those the topic refused."""

    def __init__(self, source: str, serde: Serde) -> None:
        self.source = source
        self.serde = serde
        self.unsent = 0

    async def guard(self, message: Message, work: Any) -> None:
        """Await ``work`` (the processing of ``message``); dead-letter the input if it raises."""
        try:
            await work
        except Rejected as exc:
            await self.reject(message, exc)
        except ProducerSendError as exc:
            if isinstance(exc.__cause__, MessageSizeTooLargeError):  # larger than the producer's max_request_size
                await self.reject(message, Rejected(f"a record made from it was refused: {exc}", reason="too_large"))
                return
            # the partition moved mid-send: its new owner replays the input
            log.warning(
                "skipping %s[%s]@%s after a rebalance: %s", message.topic, message.partition, message.offset, exc
            )
        except Exception as exc:  # a bug must not stop the agent: say where, keep the input, go on
            log.exception("%s failed on %s[%s]@%s", self.source, message.topic, message.partition, message.offset)
            await self.reject(message, Rejected(f"{type(exc).__name__}: {exc}", reason="processing_error"))

    async def reject(self, message: Message, error: Rejected) -> None:
        """Send the dead letter of ``message``, rejected with ``error``."""
        await self.send(
            rejected(
                error,
                topic=message.topic,
                partition=message.partition,
                offset=message.offset,
                key=message.key,
                value=message.value,
                source=self.source,
                max_bytes=settings.dead_letter_max_bytes,
            )
        )

    async def send(self, record: dict[str, Any]) -> None:
        """Send one dead letter, keyed like the original; a refusal is counted and logged, not raised."""
        where = f"{record['original_topic']}[{record['original_partition']}]@{record['original_offset']}"
        log.info("dead letter (%s) for %s: %s", record["reason"], where, record["detail"])
        try:
            await deadletter.send(key=record["original_key"], value=self.serde.encode("deadletter", record))
        except Exception as exc:  # never retried: the input stays in its own topic, at its offset
            self.unsent += 1
            log.error("%s: the dead letter for %s was not sent (%d so far): %s", self.source, where, self.unsent, exc)


def check_record(topic: str, key: bytes | None, value: bytes | None) -> None:
    """Refuse a record larger than ``INSITU_MAX_RECORD_BYTES`` before anything is written for it.

    A record too large for the broker must not reach the producer (it would fail there, after
    the input was acknowledged): it is refused here, as ``too_large``, and its input dead-lettered.
    """
    size = len(key or b"") + len(value or b"")
    if size > settings.max_record_bytes:
        msg = f"the {topic} record made from it is {size:,} bytes; the limit is {settings.max_record_bytes:,} "
        msg += "(INSITU_MAX_RECORD_BYTES)"
        raise Rejected(msg, reason="too_large")


async def send(topic: Any, *, key: bytes | None, value: bytes | None) -> None:
    """Send a record this worker derived from an input, after ``check_record``."""
    check_record(topic.get_topic_name(), key, value)
    await topic.send(key=key, value=value)
