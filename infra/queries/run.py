"""Running named queries: bind their parameters, let the server substitute them, render the rows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from clickhouse_connect.driver.client import Client

from infra.clickhouse import render, select
from infra.queries.catalog import NamedQuery, get_query


@dataclass(frozen=True)
class QueryResult:
    """The rows of one run of a named query, with the parameters it ran with."""

    query: NamedQuery
    parameters: dict[str, Any]
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]

    def records(self) -> list[dict[str, Any]]:
        """One dict per row, keyed by column name."""
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    def render(self, fmt: Literal["table", "json"] = "table") -> str:
        """An aligned text table, or JSON lines."""
        return render(self.columns, self.rows, fmt)


def run_named(client: Client, query: str | NamedQuery, params: Mapping[str, Any] | None = None) -> QueryResult:
    """Run the named ``query`` (a name or a ``NamedQuery``) with ``params`` over its defaults.

    The SQL goes to the server unchanged; values are bound server-side to its ``{name:Type}``
    placeholders, so the same call works on embedded chDB and on any ClickHouse server.
    Raises ``UnknownQueryError``, ``QueryParameterError`` or ``infra.clickhouse.ClickHouseError``.
    """
    named = get_query(query) if isinstance(query, str) else query
    bound = named.bind(params)
    columns, rows = select(client, named.body, parameters=bound)
    return QueryResult(named, bound, tuple(columns), tuple(tuple(row) for row in rows))


def describe(queries: Mapping[str, NamedQuery]) -> str:
    """The ``insitu query --list`` text: per query its name and description, then its parameters.

    >>> from infra.queries.catalog import parse_query
    >>> print(describe({"n": parse_query("n", "-- Count.\\n-- @param x = 1 | x\\nSELECT {x:UInt8}")}))
    n  Count.
       params: x=1
    """
    width = max((len(name) for name in queries), default=0)
    lines = []
    for name, query in sorted(queries.items()):
        lines.append(f"{name.ljust(width)}  {query.description}")
        if query.params:
            lines.append(" " * (width + 2) + "params: " + " ".join(_usage(p.name, p.default) for p in query.params))
    return "\n".join(lines)


def catalog_records(queries: Mapping[str, NamedQuery]) -> list[dict[str, Any]]:
    """The catalog as data (``insitu query --list --format json``)."""
    return [
        {
            "name": name,
            "description": query.description,
            "params": [
                {"name": p.name, "type": p.type, "default": p.default, "description": p.description}
                for p in query.params
            ],
        }
        for name, query in sorted(queries.items())
    ]


def _usage(name: str, default: str | None) -> str:
    if default is None:
        return f"{name}=REQUIRED"
    return f"{name}={_shell_word(default)}"


def _shell_word(text: str) -> str:
    return text if text and all(c.isalnum() or c in "._:-/" for c in text) else repr(text)
