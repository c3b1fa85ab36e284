"""The router's Faust topics and the sends its agents share (results, dead letters, error guard)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from faust.exceptions import ProducerSendError

from infra.commands import millis
from schemas import Serde
from streams import topics
from streams.app import app, settings
from streams.deadletter import dead_letter
from streams.router.internal import input_topic

log = logging.getLogger(__name__)
SOURCE = "streams.router"
INPUT = input_topic(settings)

serde = Serde.from_settings(settings)


def raw_topic(name: str) -> Any:
    """A topic of raw bytes (``schemas.Serde`` does the Avro)."""
    return app.topic(name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")


router_input = topics.internal_topic(INPUT)


def result_record(command: dict[str, Any] | None, *, accepted: bool, reason: str, detail: str) -> dict[str, Any]:
    """The audit record of one command (``command.results``); ``command`` is None if it did not decode."""
    command = command or {}
    return {
        "command_id": command.get("command_id", ""),
        "action": command.get("action", ""),
        "targets": command.get("targets", []),
        "issuer": command.get("issuer", ""),
        "issued_ts": _ts(command.get("issued_ts")),
        "key_id": command.get("key_id", ""),
        "received_ts": datetime.now(UTC),
        "result": "accepted" if accepted else "rejected",
        "reason": reason,
        "detail": detail,
    }


async def send_result(
    command: dict[str, Any] | None, *, accepted: bool, reason: str, detail: str, key: bytes | None
) -> None:
    """Send the audit record of a command (from the commands agent)."""
    record = result_record(command, accepted=accepted, reason=reason, detail=detail)
    await topics.command_results.send(key=key, value=serde.encode("command.results", record))


async def guarded(message: Any, work: Any) -> None:
    """Run one message's work; a revoked partition's send error is left to the new owner's replay."""
    try:
        await work
    except ProducerSendError as exc:
        log.warning("skipping %s[%s]@%s after a rebalance: %s", message.topic, message.partition, message.offset, exc)
    except Exception as exc:  # a bug must not stop the router: say where, dead-letter the input, go on
        log.exception("router failed on %s[%s]@%s", message.topic, message.partition, message.offset)
        await send_dead(dead(message, "router_error", f"{type(exc).__name__}: {exc}"), message.key)


async def send_dead(record: dict[str, Any], key: bytes | None) -> None:
    """Send a dead letter, keyed like the original."""
    log.info("dead letter: %s %s", record["reason"], record["detail"])
    await topics.deadletter.send(key=key, value=serde.encode("deadletter", record))


def dead(message: Any, reason: str, detail: str) -> dict[str, Any]:
    """A dead letter for a Faust ``message`` rejected by the router."""
    return dead_letter(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=message.key,
        value=message.value,
        reason=reason,
        detail=detail,
        source=SOURCE,
    )


def _ts(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromtimestamp(millis(value) / 1000, UTC)
