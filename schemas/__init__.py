"""Event contracts of insitu: one Avro schema per topic, the Confluent wire format, JSON input.

Public names:

- ``Serde``: encode/decode topic values (framed Avro; JSON on input topics).
- ``SerializationError``: raised for any value that does not fit its contract.
- ``SchemaCatalog``: the shipped ``.avsc`` files and their stable ids.
- ``EmbeddedRegistry``, ``ConfluentRegistry``: where schema ids come from.
- ``to_record``, ``to_json``: JSON in and out.
"""

from schemas.catalog import SchemaCatalog
from schemas.errors import SerializationError
from schemas.registry import ConfluentRegistry, EmbeddedRegistry
from schemas.serde import JSON_INPUT_TOPICS, Serde
from schemas.validate import to_json, to_record

__all__ = [
    "JSON_INPUT_TOPICS",
    "ConfluentRegistry",
    "EmbeddedRegistry",
    "SchemaCatalog",
    "Serde",
    "SerializationError",
    "to_json",
    "to_record",
]
