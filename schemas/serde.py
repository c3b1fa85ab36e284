"""Encode and decode topic values: Avro in the Confluent wire format, or JSON on input topics.

Framed bytes are ``0x00`` (magic), a 4-byte big-endian schema id, then the
Avro binary body (no container header). On the input topics
(``inference.events``, ``feedback.events``, ``commands``) a value may instead
be a UTF-8 JSON object, validated against the same schema. Keys are plain
UTF-8 strings, never framed. Values on the input topics are checked against
``schemas.limits.Limits`` (size, nesting, entries, string lengths) before they
are trusted.
"""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Mapping
from typing import Any

import fastavro

from schemas.catalog import SchemaCatalog
from schemas.errors import SerializationError
from schemas.limits import Limits
from schemas.registry import ConfluentRegistry, EmbeddedRegistry, SchemaRegistry
from schemas.validate import to_record

MAGIC = 0
HEADER = struct.Struct(">bI")
JSON_INPUT_TOPICS = frozenset({"inference.events", "feedback.events", "commands"})


class Serde:
    """Serialises records of catalog topics; one instance per process, schemas parsed once.

    ``topic`` arguments are catalog (logical) names; ``topic_prefix`` maps them
    to physical names for the Schema Registry's subjects.

    >>> serde = Serde()
    >>> data = serde.encode("feedback.events", {"request_id": "r1", "label": "a", "ts": 0})
    >>> data[0], serde.decode("feedback.events", data)["label"]
    (0, 'a')
    >>> serde.decode("feedback.events", b'{"request_id": "r1", "label": "a", "ts": 0}')["request_id"]
    'r1'
    """

    def __init__(
        self, registry: SchemaRegistry | None = None, topic_prefix: str = "", limits: Limits | None = None
    ) -> None:
        self._catalog = SchemaCatalog.load()
        self._registry = registry or EmbeddedRegistry(self._catalog)
        self._prefix = topic_prefix
        self.limits = limits or Limits()

    @classmethod
    def from_settings(cls, settings: Any) -> Serde:
        registry: SchemaRegistry
        if settings.schema_registry_url:
            auth = settings.schema_registry_basic_auth
            registry = ConfluentRegistry.from_url(
                settings.schema_registry_url, auth.get_secret_value() if auth else None
            )
        else:
            registry = EmbeddedRegistry()
        return cls(registry, settings.topic_prefix, Limits.from_settings(settings))

    def encode(self, topic: str, record: Mapping[str, Any]) -> bytes:
        """Framed Avro bytes for ``record``; raises ``SerializationError`` if it does not fit."""
        latest = self._catalog.latest(topic)
        schema_id = self._registry.writer_id(topic, self._prefix + topic)
        buf = io.BytesIO()
        buf.write(HEADER.pack(MAGIC, schema_id))
        try:
            fastavro.schemaless_writer(buf, latest.parsed, dict(record))
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
            msg = f"record does not fit the {topic} schema: {exc}"
            raise SerializationError(msg, reason="schema_violation", topic=topic) from exc
        return buf.getvalue()

    def encode_json(self, topic: str, value: Any) -> bytes:
        """Validate a parsed JSON value for ``topic`` and return framed Avro bytes."""
        return self.encode(topic, self.from_json(topic, value))

    def from_json(self, topic: str, value: Any) -> dict[str, Any]:
        """Validate a parsed JSON value against ``topic``'s current schema; returns the record.

        On input topics the value must keep the limits first.
        """
        try:
            if topic in JSON_INPUT_TOPICS:
                self.limits.check(value)
            return to_record(value, self._catalog.latest(topic).raw)
        except SerializationError as exc:
            raise SerializationError(exc.detail, reason=exc.reason, topic=topic, field=exc.field) from None

    def decode(
        self, topic: str, data: bytes | None, *, partition: int | None = None, offset: int | None = None
    ) -> dict[str, Any]:
        """The record in ``data``; raises ``SerializationError`` with the Kafka position on any problem."""
        try:
            return self._decode(topic, data)
        except SerializationError as exc:
            raise exc.at(topic=self._prefix + topic, partition=partition, offset=offset) from exc.__cause__

    def _decode(self, topic: str, data: bytes | None) -> dict[str, Any]:
        if not data:
            msg = "empty value"
            raise SerializationError(msg, reason="undecodable")
        if topic in JSON_INPUT_TOPICS:
            self.limits.check_size(data)
        if data[0] == MAGIC:
            record = self._decode_avro(topic, data)
            if topic in JSON_INPUT_TOPICS:
                self.limits.check(record)
            return record
        if topic in JSON_INPUT_TOPICS and data.lstrip()[:1] == b"{":
            return self._decode_json(topic, data)
        allowed = "Confluent-framed Avro or a JSON object" if topic in JSON_INPUT_TOPICS else "Confluent-framed Avro"
        msg = f"expected {allowed}; first byte is {data[0]:#04x}"
        raise SerializationError(msg, reason="undecodable")

    def _decode_avro(self, topic: str, data: bytes) -> dict[str, Any]:
        if len(data) < HEADER.size:
            msg = f"{len(data)} bytes is shorter than the 5-byte wire-format header"
            raise SerializationError(msg, reason="undecodable")
        _, schema_id = HEADER.unpack_from(data)
        writer = self._registry.writer_schema(schema_id)
        body = io.BytesIO(data)
        body.seek(HEADER.size)
        try:
            reader = self._catalog.latest(topic).parsed
            # Resolution compares the two schemas on every call: skip it when the writer is the reader.
            record = fastavro.schemaless_reader(body, writer, None if writer is reader else reader)
        except Exception as exc:  # fastavro raises many types on corrupt input (EOFError, ValueError, ...)
            msg = f"Avro body does not decode with schema id {schema_id}: {type(exc).__name__}: {exc}"
            raise SerializationError(msg, reason="undecodable") from exc
        if body.tell() != len(data):
            msg = f"{len(data) - body.tell()} trailing bytes after the Avro body (schema id {schema_id})"
            raise SerializationError(msg, reason="undecodable")
        if not isinstance(record, dict):
            msg = f"schema id {schema_id} does not describe a record"
            raise SerializationError(msg, reason="undecodable")
        return record

    def _decode_json(self, topic: str, data: bytes) -> dict[str, Any]:
        try:
            value = json.loads(data.decode("utf-8"))
        except RecursionError as exc:
            msg = f"nesting deeper than the JSON parser allows (the limit is {self.limits.depth}, INSITU_MAX_DEPTH)"
            raise SerializationError(msg, reason="too_deep") from exc
        except (UnicodeDecodeError, ValueError) as exc:  # ValueError: JSONDecodeError, or an int of >4,300 digits
            msg = f"invalid JSON: {exc}"
            raise SerializationError(msg, reason="undecodable") from exc
        return self.from_json(topic, value)
