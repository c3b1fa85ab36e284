"""The error every decoder and validator in insitu raises."""

from __future__ import annotations


class SerializationError(Exception):
    """Bytes or a record that do not fit a topic's contract.

    Carries where the input came from so a dead letter can say so:
    ``topic``, ``partition``, ``offset`` (Kafka position, when known),
    ``field`` (dotted path, when one field is at fault) and ``reason`` (a short
    machine-readable code such as ``undecodable`` or ``schema_violation``).
    """

    def __init__(
        self,
        message: str,
        *,
        reason: str,
        topic: str | None = None,
        partition: int | None = None,
        offset: int | None = None,
        field: str | None = None,
    ) -> None:
        self.detail = message
        self.reason = reason
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.field = field
        super().__init__(self._render())

    def _render(self) -> str:
        where = []
        if self.topic is not None:
            where.append(f"topic={self.topic}")
        if self.partition is not None:
            where.append(f"partition={self.partition}")
        if self.offset is not None:
            where.append(f"offset={self.offset}")
        prefix = f"[{' '.join(where)}] " if where else ""
        return f"{prefix}{self.reason}: {self.detail}"

    def at(self, *, topic: str | None, partition: int | None, offset: int | None) -> SerializationError:
        """The same error with a Kafka position attached."""
        return SerializationError(
            self.detail, reason=self.reason, topic=topic, partition=partition, offset=offset, field=self.field
        )
