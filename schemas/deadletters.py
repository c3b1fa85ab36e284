"""The one builder of ``deadletter`` records: anything rejected, with the reason and the original bytes.

A dead letter must always fit the dead-letter topic, whatever it carries: the original key
and value are cut to ``max_bytes`` each (their full lengths are recorded in
``original_key_bytes`` / ``original_value_bytes``) and the detail to ``DETAIL_CHARS``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from schemas.errors import Rejected, SerializationError

DETAIL_CHARS = 2_000
MAX_BYTES = 65_536
"""Default cut of an original key or value (``INSITU_DEAD_LETTER_MAX_BYTES``)."""


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
    max_bytes: int = MAX_BYTES,
) -> dict[str, Any]:
    """A ``deadletter`` record (``schemas/avro/deadletter.v2.avsc``).

    >>> letter = dead_letter(topic="t", partition=0, offset=5, key=b"k", value=b"v" * 10, reason="x",
    ...                      detail="d", source="streams.join", max_bytes=4)
    >>> letter["original_value"], letter["original_value_bytes"], letter["original_key_bytes"]
    (b'vvvv', 10, 1)
    """
    if len(detail) > DETAIL_CHARS:
        detail = f"{detail[:DETAIL_CHARS]}...(+{len(detail) - DETAIL_CHARS:,} characters)"
    return {
        "original_topic": topic,
        "original_partition": -1 if partition is None else partition,
        "original_offset": -1 if offset is None else offset,
        "original_key": None if key is None else key[:max_bytes],
        "original_value": None if value is None else value[:max_bytes],
        "original_key_bytes": -1 if key is None else len(key),
        "original_value_bytes": -1 if value is None else len(value),
        "reason": reason,
        "detail": detail,
        "source": source,
        "ts": now or datetime.now(UTC),
    }


def rejected(
    error: Rejected,
    *,
    topic: str,
    partition: int | None,
    offset: int | None,
    key: bytes | None,
    value: bytes | None,
    source: str,
    max_bytes: int = MAX_BYTES,
) -> dict[str, Any]:
    """The dead letter of an input rejected with ``error`` (its Kafka position, when it carries one, wins)."""
    if isinstance(error, SerializationError):
        topic = error.topic or topic
        partition = error.partition if error.partition is not None else partition
        offset = error.offset if error.offset is not None else offset
    return dead_letter(
        topic=topic,
        partition=partition,
        offset=offset,
        key=key,
        value=value,
        reason=error.reason,
        detail=error.detail,
        source=source,
        max_bytes=max_bytes,
    )
