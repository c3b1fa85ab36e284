"""Where schema ids come from: the embedded registry or a Confluent Schema Registry."""

from __future__ import annotations

import json
import threading
from typing import Any, Protocol

import fastavro

from schemas.catalog import SchemaCatalog
from schemas.errors import SerializationError


class SchemaRegistry(Protocol):
    """Maps a topic to the id of the schema its writers use, and an id to a parsed writer schema."""

    def writer_id(self, logical_topic: str, physical_topic: str) -> int: ...

    def writer_schema(self, schema_id: int) -> Any: ...


class EmbeddedRegistry:
    """Stable ids from ``schemas/registry.json``; no server needed.

    >>> reg = EmbeddedRegistry()
    >>> reg.writer_id("feedback.events", "feedback.events") == SchemaCatalog.load().latest("feedback.events").id
    True
    """

    def __init__(self, catalog: SchemaCatalog | None = None) -> None:
        self._catalog = catalog or SchemaCatalog.load()

    def writer_id(self, logical_topic: str, physical_topic: str) -> int:
        return self._catalog.latest(logical_topic).id

    def writer_schema(self, schema_id: int) -> Any:
        version = self._catalog.by_id(schema_id)
        if version is None:
            msg = f"schema id {schema_id} is not in the embedded registry"
            raise SerializationError(msg, reason="unknown_schema")
        return version.parsed


class ConfluentRegistry:
    """A Confluent Schema Registry through confluent-kafka's client.

    Subjects follow the TopicNameStrategy (``<topic>-value``). The current
    schema of each topic is registered on first use (registering an existing
    schema returns its id); writer schemas fetched by id are parsed once.
    """

    def __init__(self, client: Any, catalog: SchemaCatalog | None = None) -> None:
        self._client = client
        self._catalog = catalog or SchemaCatalog.load()
        self._ids: dict[str, int] = {}
        self._schemas: dict[int, Any] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, basic_auth: str | None = None) -> ConfluentRegistry:
        from confluent_kafka.schema_registry import SchemaRegistryClient

        conf: dict[str, Any] = {"url": url}
        if basic_auth:
            conf["basic.auth.user.info"] = basic_auth
        return cls(SchemaRegistryClient.new_client(conf))

    def writer_id(self, logical_topic: str, physical_topic: str) -> int:
        with self._lock:
            if physical_topic not in self._ids:
                from confluent_kafka.schema_registry import Schema

                latest = self._catalog.latest(logical_topic)
                subject = f"{physical_topic}-value"
                schema_id = self._client.register_schema(subject, Schema(latest.canonical, "AVRO"))
                self._ids[physical_topic] = schema_id
                self._schemas[schema_id] = latest.parsed
            return self._ids[physical_topic]

    def writer_schema(self, schema_id: int) -> Any:
        with self._lock:
            cached = self._schemas.get(schema_id)
        if cached is not None:
            return cached
        try:
            schema = self._client.get_schema(schema_id)
            parsed = fastavro.parse_schema(json.loads(schema.schema_str))
        except Exception as exc:  # the client raises several error types; all mean "no usable schema"
            msg = f"schema id {schema_id} could not be fetched from the Schema Registry: {exc}"
            raise SerializationError(msg, reason="unknown_schema") from exc
        with self._lock:
            self._schemas[schema_id] = parsed
        return parsed
