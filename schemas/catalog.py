"""The Avro schemas shipped in ``schemas/avro``, parsed once, with their stable ids."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import fastavro

SCHEMA_DIR = Path(__file__).with_name("avro")
MANIFEST = Path(__file__).with_name("registry.json")


@dataclass(frozen=True)
class SchemaVersion:
    """One version of one topic's value schema."""

    id: int
    topic: str
    version: int
    raw: dict[str, Any]
    parsed: Any

    @property
    def canonical(self) -> str:
        """The schema as JSON text, as a Schema Registry stores it."""
        return json.dumps(self.raw, separators=(",", ":"))


class SchemaCatalog:
    """All shipped schema versions, by id and by topic.

    >>> catalog = SchemaCatalog.load()
    >>> catalog.latest("inference.events").version
    2
    >>> catalog.by_id(catalog.latest("feedback.events").id).topic
    'feedback.events'
    """

    def __init__(self, versions: list[SchemaVersion]) -> None:
        self._by_id = {v.id: v for v in versions}
        if len(self._by_id) != len(versions):
            msg = "duplicate schema id in the manifest"
            raise ValueError(msg)
        self._by_topic: dict[str, list[SchemaVersion]] = {}
        for v in sorted(versions, key=lambda v: (v.topic, v.version)):
            self._by_topic.setdefault(v.topic, []).append(v)

    @classmethod
    @cache
    def load(cls) -> SchemaCatalog:
        manifest = json.loads(MANIFEST.read_text())
        versions = []
        for entry in manifest["schemas"]:
            raw = json.loads((SCHEMA_DIR / entry["file"]).read_text())
            parsed = fastavro.parse_schema(raw)
            versions.append(SchemaVersion(entry["id"], entry["topic"], entry["version"], raw, parsed))
        return cls(versions)

    @property
    def topics(self) -> list[str]:
        return sorted(self._by_topic)

    def versions(self, topic: str) -> list[SchemaVersion]:
        try:
            return list(self._by_topic[topic])
        except KeyError:
            msg = f"no schema for topic {topic!r}; known: {', '.join(self.topics)}"
            raise KeyError(msg) from None

    def latest(self, topic: str) -> SchemaVersion:
        return self.versions(topic)[-1]

    def by_id(self, schema_id: int) -> SchemaVersion | None:
        return self._by_id.get(schema_id)
