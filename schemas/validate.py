"""Turn a JSON value into a record for an Avro schema, or say exactly what is wrong.

Used for the JSON that existing services produce and for ``insitu produce``:
every error names the dotted field path and the problem. Conventions:
timestamps are epoch milliseconds or ISO-8601 with a timezone; bytes are
base64; fields with a default may be omitted; unknown fields are rejected.
"""

from __future__ import annotations

import base64
import binascii
import math
import reprlib
from datetime import UTC, datetime
from typing import Any

from schemas.errors import SerializationError

_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
_TS_LOGICAL = {"timestamp-millis", "timestamp-micros"}


def to_record(value: Any, schema: dict[str, Any]) -> dict[str, Any]:
    """Validate ``value`` against the record ``schema`` (raw JSON form) and coerce it.

    >>> from schemas.catalog import SchemaCatalog
    >>> raw = SchemaCatalog.load().latest("feedback.events").raw
    >>> to_record({"request_id": "r1", "label": "yes", "ts": "2026-01-01T00:00:00Z"}, raw)["ts"].year
    2026
    >>> to_record({"request_id": "r1", "label": 3, "ts": 0}, raw)
    Traceback (most recent call last):
    ...
    schemas.errors.SerializationError: schema_violation: field 'label': expected a string, got int 3
    """
    return _Coercer().convert(value, schema, path="")


class _Coercer:
    def __init__(self) -> None:
        self.named: dict[str, Any] = {}

    def fail(self, path: str, problem: str) -> SerializationError:
        where = f"field '{path}'" if path else "record"
        return SerializationError(f"{where}: {problem}", reason="schema_violation", field=path or None)

    def convert(self, value: Any, schema: Any, path: str) -> Any:
        if isinstance(schema, str):
            if schema in self.named:
                return self.convert(value, self.named[schema], path)
            return self.primitive(value, schema, path)
        if isinstance(schema, list):
            return self.union(value, schema, path)
        kind = schema["type"]
        if kind in ("record", "enum", "fixed"):
            self.register(schema)
        if schema.get("logicalType") in _TS_LOGICAL:
            return self.timestamp(value, path)
        if kind == "record":
            return self.record(value, schema, path)
        if kind == "enum":
            if not isinstance(value, str) or value not in schema["symbols"]:
                raise self.fail(path, f"expected one of {schema['symbols']}, got {_show(value)}")
            return value
        if kind == "array":
            if not isinstance(value, list):
                raise self.fail(path, f"expected an array, got {_show(value)}")
            return [self.convert(v, schema["items"], f"{path}[{i}]") for i, v in enumerate(value)]
        if kind == "map":
            if not isinstance(value, dict):
                raise self.fail(path, f"expected an object, got {_show(value)}")
            return {str(k): self.convert(v, schema["values"], _join(path, str(k))) for k, v in value.items()}
        return self.convert(value, kind, path)

    def register(self, schema: dict[str, Any]) -> None:
        name = schema["name"]
        namespace = schema.get("namespace")
        self.named.setdefault(name, schema)
        if namespace and "." not in name:
            self.named.setdefault(f"{namespace}.{name}", schema)

    def record(self, value: Any, schema: dict[str, Any], path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(path, f"expected an object, got {_show(value)}")
        fields = schema["fields"]
        unknown = set(value) - {f["name"] for f in fields}
        if unknown:
            raise self.fail(path, f"unknown field(s) {_REPR.repr(sorted(unknown))}")
        out = {}
        for field in fields:
            name = field["name"]
            sub = _join(path, name)
            if name in value:
                out[name] = self.convert(value[name], field["type"], sub)
            elif "default" in field:
                out[name] = self.convert(field["default"], field["type"], sub)
            else:
                msg = f"field '{sub}': required field is missing"
                raise SerializationError(msg, reason="schema_violation", field=sub)
        return out

    def union(self, value: Any, branches: list[Any], path: str) -> Any:
        if value is None and "null" in branches:
            return None
        problems = []
        for branch in branches:
            if branch == "null":
                continue
            try:
                return self.convert(value, branch, path)
            except SerializationError as exc:
                problems.append(exc.detail)
        if len(problems) == 1:
            raise self.fail(path, problems[0].split(": ", 1)[-1])
        raise self.fail(path, f"matches no branch of the union: {'; '.join(problems)}")

    def primitive(self, value: Any, kind: str, path: str) -> Any:
        if kind == "null":
            if value is not None:
                raise self.fail(path, f"expected null, got {_show(value)}")
            return None
        if kind == "boolean":
            if not isinstance(value, bool):
                raise self.fail(path, f"expected true or false, got {_show(value)}")
            return value
        if kind in ("int", "long"):
            return self.integer(value, kind, path)
        if kind in ("float", "double"):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise self.fail(path, f"expected a number, got {_show(value)}")
            return float(value)
        if kind == "string":
            if not isinstance(value, str):
                raise self.fail(path, f"expected a string, got {_show(value)}")
            return value
        if kind == "bytes":
            if isinstance(value, bytes):
                return value
            if not isinstance(value, str):
                raise self.fail(path, f"expected base64 text, got {_show(value)}")
            try:
                return base64.b64decode(value, validate=True)
            except binascii.Error as exc:
                raise self.fail(path, f"invalid base64: {exc}") from exc
        raise self.fail(path, f"unsupported schema type {kind!r}")

    def integer(self, value: Any, kind: str, path: str) -> int:
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(path, f"expected an integer, got {_show(value)}")
        low, high = _INT32 if kind == "int" else _INT64
        if not low <= value <= high:
            raise self.fail(path, f"integer {value} out of range for Avro {kind}")
        return value

    def timestamp(self, value: Any, path: str) -> datetime:
        if isinstance(value, datetime):
            if value.tzinfo is None:
                raise self.fail(path, "timestamp has no timezone")
            return value
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError as exc:
                raise self.fail(path, f"not an ISO-8601 timestamp: {value!r}") from exc
            if parsed.tzinfo is None:
                raise self.fail(path, f"timestamp {value!r} has no timezone (add 'Z' or an offset)")
            return parsed
        millis = self.integer(value, "long", path)
        try:
            return datetime.fromtimestamp(millis / 1000, tz=UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise self.fail(path, f"epoch milliseconds {millis} out of range") from exc


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


_REPR = reprlib.Repr()  # bounded: input may be huge or deeply nested
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother, _REPR.maxlist, _REPR.maxdict = 2, 60, 60, 5, 5


def _show(value: Any) -> str:
    text = _REPR.repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


def to_json(value: Any) -> Any:
    """A decoded record as plain JSON: timestamps as ISO-8601 UTC, bytes as base64.

    >>> to_json({"ts": datetime(2026, 1, 1, tzinfo=UTC), "b": b"\\x00"})
    {'ts': '2026-01-01T00:00:00.000Z', 'b': 'AA=='}
    """
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_json(v) for v in value]
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return value
