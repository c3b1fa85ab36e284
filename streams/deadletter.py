"""Dead letters: anything rejected goes to ``deadletter`` with the reason and the original bytes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from schemas import SerializationError


def dead_letter(
    *,
    topic: str,
    partition: int | None,
    offset: int | None,
    key: bytes | None,
    value: bytes | None,
    reason: str,
    detail: str,
    source: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """A ``deadletter`` record (see ``schemas/avro/deadletter.v1.avsc``).

    >>> dead_letter(topic="t", partition=0, offset=5, key=b"k", value=b"v", reason="x", detail="d",
    ...             source="streams.join")["original_offset"]
    5
    """
    return {
        "original_topic": topic,
        "original_partition": -1 if partition is None else partition,
        "original_offset": -1 if offset is None else offset,
        "original_key": key,
        "original_value": value,
        "reason": reason,
        "detail": detail,
        "source": source,
        "ts": now or datetime.now(UTC),
    }


def from_error(
    error: SerializationError, *, key: bytes | None, value: bytes | None, source: str, topic: str | None = None
) -> dict[str, Any]:
    """A dead letter for a value that failed to decode or validate."""
    return dead_letter(
        topic=error.topic or topic or "",
        partition=error.partition,
        offset=error.offset,
        key=key,
        value=value,
        reason=error.reason,
        detail=error.detail,
        source=source,
    )
