"""Named analytics queries shipped with insitu: one ``NAME.sql`` file each in this folder.

A file's leading comment is its description and declares its parameters
(``-- @param NAME = DEFAULT | DESCRIPTION``), which the SQL uses as ClickHouse server-side
placeholders ``{NAME:Type}``: values are bound by the server, never spliced into the text,
so the queries run unchanged on embedded chDB and on a ClickHouse server.
``insitu query --list`` lists them; ``insitu query --named NAME --param k=v`` runs one.

Public names:

- ``NamedQuery``, ``Param``: a parsed query file and one of its parameters.
- ``QueryError``, ``UnknownQueryError``, ``QueryParameterError``: what can go wrong, with names.
- ``QUERIES``, ``shipped``, ``load_queries``, ``parse_query``, ``get_query``: the catalog.
- ``parse_assignments``: ``NAME=VALUE`` command-line arguments to a dict.
- ``run_named``, ``QueryResult``: run one query on a clickhouse-connect client.
- ``describe``, ``catalog_records``: the catalog as text or data.
"""

from infra.queries.catalog import (
    QUERIES,
    NamedQuery,
    Param,
    QueryError,
    QueryParameterError,
    UnknownQueryError,
    get_query,
    load_queries,
    parse_assignments,
    parse_query,
    shipped,
)
from infra.queries.run import QueryResult, catalog_records, describe, run_named

__all__ = [
    "QUERIES",
    "NamedQuery",
    "Param",
    "QueryError",
    "QueryParameterError",
    "QueryResult",
    "UnknownQueryError",
    "catalog_records",
    "describe",
    "get_query",
    "load_queries",
    "parse_assignments",
    "parse_query",
    "run_named",
    "shipped",
]
