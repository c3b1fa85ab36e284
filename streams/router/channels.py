"""What the router's agents share: the serde, their dead letters, and command results."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from infra.commands import millis
from schemas import Serde
from streams import stages
from streams.app import settings
from streams.deadletter import DeadLetters, check_record
from streams.topology import JOINED_BY_ROUTE, command_results, commands, metrics_snapshots, model_versions, router_input

log = logging.getLogger(__name__)
SOURCE = "streams.router"

serde = Serde.from_settings(settings)
dead_letters = DeadLetters(SOURCE, serde)
lag = stages.stage(
    "router",
    JOINED_BY_ROUTE,
    metrics_snapshots.get_topic_name(),
    model_versions.get_topic_name(),
    router_input.get_topic_name(),
    commands.get_topic_name(),
)


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
    value = serde.encode("command.results", record)
    check_record(command_results.get_topic_name(), key, value)
    await command_results.send(key=key, value=value)


def _ts(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromtimestamp(millis(value) / 1000, UTC)
