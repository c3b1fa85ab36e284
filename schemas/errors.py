"""The errors insitu raises for input it will not process: each one becomes a dead letter."""

from __future__ import annotations


class Rejected(Exception):
    """Input insitu will not process; ``reason`` is the dead-letter reason, ``detail`` says why.

    ``reason`` is a short machine-readable code (``undecodable``, ``too_large``,
    ``unknown_route``, ...), ``detail`` a sentence for people, ``field`` the dotted path of
    the field at fault, when one is.

    >>> str(Rejected("feature 'a' is nan", reason="non_finite_feature"))
    "non_finite_feature: feature 'a' is nan"
    """

    def __init__(self, detail: str, *, reason: str, field: str | None = None) -> None:
        self.detail = detail
        self.reason = reason
        self.field = field
        super().__init__(self._render())

    def _render(self) -> str:
        return f"{self.reason}: {self.detail}"


class SerializationError(Rejected):
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
        self.topic = topic
        self.partition = partition
        self.offset = offset
        super().__init__(message, reason=reason, field=field)

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
