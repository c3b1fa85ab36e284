"""Event contracts of insitu: one Avro schema per topic, the Confluent wire format, JSON input.

Public names:

- ``Serde``: encode/decode topic values (framed Avro; JSON on input topics).
- ``Rejected``: input insitu will not process (a dead-letter reason and detail); the base of
  ``SerializationError``, raised for any value that does not fit its contract.
- ``Limits``: the bounds every input keeps (size, nesting, entries, string lengths).
- ``dead_letter``: the one builder of ``deadletter`` records.
- ``SchemaCatalog``: the shipped ``.avsc`` files and their stable ids.
- ``EmbeddedRegistry``, ``ConfluentRegistry``: where schema ids come from.
- ``to_record``, ``to_json``: JSON in and out.
- ``Slice``, ``Condition``, ``Columns``, ``category``, ``in_any`` (import them from ``schemas.slices``,
  which needs numpy): the one definition of which rows lie in a slice, for every layer.
"""

from schemas.catalog import SchemaCatalog
from schemas.deadletters import dead_letter
from schemas.errors import Rejected, SerializationError
from schemas.limits import Limits
from schemas.registry import ConfluentRegistry, EmbeddedRegistry
from schemas.serde import JSON_INPUT_TOPICS, Serde
from schemas.validate import to_json, to_record

__all__ = [
    "JSON_INPUT_TOPICS",
    "ConfluentRegistry",
    "EmbeddedRegistry",
    "Limits",
    "Rejected",
    "SchemaCatalog",
    "Serde",
    "SerializationError",
    "dead_letter",
    "to_json",
    "to_record",
]
