"""The named queries: one ``.sql`` file each, its leading comment the description and parameters.

A query file starts with comment lines. The first is the one-line description; each
``-- @param NAME = DEFAULT | DESCRIPTION`` line declares a server-side parameter, used in
the SQL as ``{NAME:Type}`` (ClickHouse binds it: nothing is spliced into the text). A
parameter without ``= DEFAULT`` is required; a default in single quotes is taken literally
(``''`` is the empty string) and holds no ``|``. Placeholders inside comments are ignored.

>>> query = parse_query("demo", '''-- Events per route.
... -- @param route = '' | only this route (empty: every route)
... -- @param limit | at most this many rows
... SELECT route, count() AS n FROM joined_events FINAL
... WHERE {route:String} = '' OR route = {route:String} GROUP BY route LIMIT {limit:UInt32}''')
>>> query.description, [(p.name, p.type, p.default) for p in query.params]
('Events per route.', [('route', 'String', ''), ('limit', 'UInt32', None)])
>>> query.bind({"limit": "5"})
{'route': '', 'limit': 5}
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Any

QUERIES: Traversable = resources.files(__package__ or "infra.queries")
"""The named queries shipped with insitu: ``NAME.sql`` files beside this module."""

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_PARAM_LINE = re.compile(r"^--\s*@param\s+(?P<name>\w+)\s*(?:=\s*(?P<default>[^|]*?))?\s*(?:\|\s*(?P<doc>.*?))?\s*$")
_PLACEHOLDER = re.compile(r"\{\s*(?P<name>\w+)\s*:\s*(?P<type>[^{}]+?)\s*\}")
_INT = re.compile(r"^(U?)Int(8|16|32|64|128|256)$")


class QueryError(ValueError):
    """A named query that cannot be found, parsed or bound; the message names the query and the culprit."""


class UnknownQueryError(QueryError):
    """No query of that name; the message lists the available ones."""


class QueryParameterError(QueryError):
    """A parameter that is missing, unknown or not of its declared type."""


@dataclass(frozen=True)
class Param:
    """One server-side parameter of a named query: ``{name:type}`` in its SQL."""

    name: str
    type: str
    default: str | None
    """The default as text (parsed like a value given on the command line); ``None``: required."""
    description: str = ""

    @property
    def required(self) -> bool:
        return self.default is None

    def coerce(self, value: Any, query: str) -> Any:
        """``value`` as the Python value clickhouse-connect binds for ``type``; text is parsed.

        Integers and floats become ``int`` and ``float`` (checked here, so the error names the
        parameter); date-times become timezone-aware ``datetime`` (ISO 8601; naive means UTC).
        Other types pass through for the server to parse.
        """
        try:
            return _coerce(self.type, value)
        except (TypeError, ValueError) as exc:
            msg = f"query {query!r}: parameter {self.name!r} ({self.type}): {exc}"
            raise QueryParameterError(msg) from None


@dataclass(frozen=True)
class NamedQuery:
    """A named query: its exact file text (``sql``), description and parameters."""

    name: str
    description: str
    sql: str
    params: tuple[Param, ...]

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)

    def bind(self, values: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The parameters for ``client.query``: ``values`` coerced, defaults for the rest.

        Raises ``QueryParameterError`` for a name the query does not declare or a required
        parameter without a value.
        """
        values = dict(values or {})
        declared = [p.name for p in self.params]
        unknown = sorted(set(values) - set(declared))
        if unknown:
            accepted = ", ".join(declared) or "none"
            msg = f"query {self.name!r} has no parameter {', '.join(map(repr, unknown))}; it accepts: {accepted}"
            raise QueryParameterError(msg)
        bound = {}
        for param in self.params:
            if param.name in values:
                bound[param.name] = param.coerce(values[param.name], self.name)
            elif param.default is not None:
                bound[param.name] = param.coerce(param.default, self.name)
            else:
                msg = (
                    f"query {self.name!r} needs parameter {param.name!r} ({param.type}): "
                    f"{param.description or 'no default'}; give it as --param {param.name}=VALUE"
                )
                raise QueryParameterError(msg)
        return bound

    @property
    def body(self) -> str:
        """The SQL to send: the file text without a trailing ``;``."""
        return self.sql.strip().rstrip(";").rstrip()


def parse_query(name: str, text: str) -> NamedQuery:
    """A ``NamedQuery`` from the text of ``name.sql``; ``QueryError`` if it is malformed.

    Every ``{name:Type}`` placeholder must be declared by an ``@param`` line, every declared
    parameter must be used, and one parameter has one type throughout.
    """
    if not _NAME.match(name):
        msg = f"query name {name!r}: use lower-case letters, digits and '_'"
        raise QueryError(msg)
    header = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if not stripped.startswith("--"):
            break
        header.append(stripped)
    docs = [line.lstrip("-").strip() for line in header if "@param" not in line]
    description = next((doc for doc in docs if doc), "")
    if not description:
        msg = f"query {name!r}: the file must start with a comment line describing it"
        raise QueryError(msg)
    types: dict[str, str] = {}
    for match in _PLACEHOLDER.finditer(_strip_comments(text)):
        param, type_ = match.group("name"), " ".join(match.group("type").split())
        if types.setdefault(param, type_) != type_:
            msg = f"query {name!r}: parameter {param!r} is used as {types[param]} and as {type_}"
            raise QueryError(msg)
    params: list[Param] = []
    for line in header:
        if "@param" not in line:
            continue
        declared = _PARAM_LINE.match(line)
        if declared is None:
            msg = f"query {name!r}: malformed line {line!r}; write '-- @param NAME = DEFAULT | DESCRIPTION'"
            raise QueryError(msg)
        param = declared.group("name")
        if param not in types:
            msg = f"query {name!r}: parameter {param!r} is declared but its SQL has no {{{param}:Type}}"
            raise QueryError(msg)
        if any(p.name == param for p in params):
            msg = f"query {name!r}: parameter {param!r} is declared twice"
            raise QueryError(msg)
        default = declared.group("default")
        params.append(Param(param, types[param], _unquote(default), declared.group("doc") or ""))
    undeclared = sorted(set(types) - {p.name for p in params})
    if undeclared:
        msg = f"query {name!r}: parameter(s) {', '.join(undeclared)} used in the SQL but not declared with @param"
        raise QueryError(msg)
    query = NamedQuery(name, description, text, tuple(params))
    for param in query.params:  # a default that does not parse is the file's fault, found at load time
        if param.default is not None:
            param.coerce(param.default, name)
    return query


def load_queries(directory: Traversable | Path = QUERIES) -> dict[str, NamedQuery]:
    """Every ``NAME.sql`` in ``directory``, parsed, by name (in name order)."""
    entries = sorted((e for e in directory.iterdir() if e.name.endswith(".sql")), key=lambda e: e.name)
    return {q.name: q for q in (parse_query(e.name.removesuffix(".sql"), e.read_text("utf-8")) for e in entries)}


@cache
def shipped() -> dict[str, NamedQuery]:
    """The queries shipped with insitu (parsed once)."""
    return load_queries()


def get_query(name: str, queries: Mapping[str, NamedQuery] | None = None) -> NamedQuery:
    """The query called ``name``; ``UnknownQueryError`` naming the available ones if there is none."""
    queries = shipped() if queries is None else queries
    if name not in queries:
        msg = f"no named query {name!r}; available: {', '.join(sorted(queries)) or 'none'}"
        raise UnknownQueryError(msg)
    return queries[name]


def parse_assignments(items: Iterable[str]) -> dict[str, str]:
    """``["a=1", "b=x=y"]`` -> ``{"a": "1", "b": "x=y"}``: ``--param`` arguments of the command line.

    >>> parse_assignments(["route=credit", "since=2024-05-01 00:00:00"])
    {'route': 'credit', 'since': '2024-05-01 00:00:00'}
    """
    values: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            msg = f"parameter {item!r}: write NAME=VALUE"
            raise QueryParameterError(msg)
        if key in values:
            msg = f"parameter {key!r} is given twice"
            raise QueryParameterError(msg)
        values[key] = value
    return values


def _strip_comments(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))


def _unquote(default: str | None) -> str | None:
    if default is None:
        return None
    default = default.strip()
    if len(default) >= 2 and default[0] == default[-1] == "'":
        return default[1:-1]
    return default


def _coerce(type_: str, value: Any) -> Any:
    base = type_
    if base.startswith("LowCardinality(") and base.endswith(")"):
        base = base[len("LowCardinality(") : -1]
    if base == "String":
        if not isinstance(value, str):
            msg = f"expected text, got {value!r}"
            raise TypeError(msg)
        return value
    if match := _INT.match(base):
        if isinstance(value, bool) or not isinstance(value, int | str):
            msg = f"expected an integer, got {value!r}"
            raise TypeError(msg)
        try:
            number = int(value)
        except ValueError:
            msg = f"expected an integer, got {value!r}"
            raise ValueError(msg) from None
        if match.group(1) and number < 0:
            msg = f"expected a non-negative integer, got {number}"
            raise ValueError(msg)
        return number
    if base in ("Float32", "Float64"):
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            msg = f"expected a number, got {value!r}"
            raise TypeError(msg)
        try:
            return float(value)
        except ValueError:
            msg = f"expected a number, got {value!r}"
            raise ValueError(msg) from None
    if base.startswith("DateTime"):
        return _datetime(value)
    return value


def _datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            msg = f"expected an ISO 8601 date-time such as 2024-05-01T12:00:00Z, got {value!r}"
            raise ValueError(msg) from None
    else:
        msg = f"expected a date-time, got {value!r}"
        raise TypeError(msg)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
