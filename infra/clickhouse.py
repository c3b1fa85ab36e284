"""ClickHouse access: connect (embedded chDB or a server), migrate the analytics schema, query, insert."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

import clickhouse_connect
from clickhouse_connect.driver import exceptions as ch_errors
from clickhouse_connect.driver.binding import quote_identifier
from clickhouse_connect.driver.client import Client

from infra.config import Settings

MIGRATIONS: Traversable = resources.files(__package__ or "infra").joinpath("migrations")
"""The migrations shipped with insitu: ``NNNN_name.sql``, applied in numeric order."""

_LEDGER = (
    "CREATE TABLE IF NOT EXISTS schema_migrations "
    "(version UInt32, name String, applied_at DateTime64(3, 'UTC')) "
    "ENGINE = ReplacingMergeTree ORDER BY version"
)
_MIGRATION_FILE = re.compile(r"^(\d+)_(\w+)\.sql$")
_STATEMENT_END = re.compile(r";[ \t]*$", re.MULTILINE)
_SECRET_QUERY = re.compile(r"([?&][^=&#]*(?:pass|secret|token|key)[^=&#]*=)([^&#]*)", re.IGNORECASE)


class ClickHouseError(Exception):
    """ClickHouse could not be reached, or it refused a statement; the message says which and why."""


@dataclass(frozen=True)
class Migration:
    """One numbered migration file, split into statements."""

    version: int
    name: str
    statements: tuple[str, ...]


def connect(settings: Settings, *, database: str | None = None, connect_timeout: int = 10) -> Client:
    """A client for ``settings.clickhouse_target``: embedded chDB by default, else the configured server.

    ``database`` (created when missing) overrides the DSN's database. Each call opens its own
    client; close it when done. chDB hosts one engine per process: clients on the same path
    share it (clickhouse-connect gives each its own handle, so calling this twice is safe),
    while a client on another path fails until every client on the first one is closed. That
    is why clients are not cached here: a cache would pin the engine for the process lifetime.
    """
    target = settings.clickhouse_target
    options: dict[str, Any] = {"tz_mode": "aware"}  # DateTime64(3, 'UTC') reads back timezone-aware
    try:
        if target.startswith("chdb:"):
            location = unquote(urlsplit(target).path)
            if location:
                Path(location).mkdir(parents=True, exist_ok=True)
        else:
            options["connect_timeout"] = connect_timeout  # an HTTP option; chDB would log it as ignored
            scheme = urlsplit(target).scheme
            if scheme in ("http", "https"):  # clickhouse-connect ignores a DSN's scheme: https would go plain
                options["interface"] = scheme
        if database is not None:
            bootstrap = clickhouse_connect.get_client(dsn=target, **options)
            try:  # look first: a server user may lack CREATE DATABASE rights on one that exists
                exists = "SELECT 1 FROM system.databases WHERE name = {name:String}"
                if not bootstrap.query(exists, parameters={"name": database}).result_rows:
                    bootstrap.command(f"CREATE DATABASE IF NOT EXISTS {quote_identifier(database)}")
            finally:
                bootstrap.close()
            options["database"] = database
        return clickhouse_connect.get_client(dsn=target, **options)
    except (ch_errors.ClickHouseError, OSError, TypeError, ValueError) as exc:  # TypeError: a malformed DSN
        # The cause is not chained: its text or its own causes could carry the password.
        msg = f"cannot connect to ClickHouse at {redact(target)}: {_scrub(str(exc), target)}"
        raise ClickHouseError(msg) from None


def redact(target: str) -> str:
    """``target`` with its password and secret-looking query parameters replaced by ``***``.

    >>> redact("http://user:pw@host:8123/db?password=x&compress=1")
    'http://user:***@host:8123/db?password=***&compress=1'
    """
    parts = urlsplit(target)
    if parts.password is not None:
        user, _, host = parts.netloc.rpartition("@")
        target = target.replace(parts.netloc, f"{user.partition(':')[0]}:***@{host}", 1)
    return _SECRET_QUERY.sub(r"\1***", target)


def _scrub(text: str, target: str) -> str:
    """``text`` with every secret of ``target`` (raw or percent-decoded) replaced by ``***``."""
    raw = [match.group(2) for match in _SECRET_QUERY.finditer(target)]
    raw.append(urlsplit(target).password or "")
    for secret in sorted({s for r in raw for s in (r, unquote(r)) if s}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def load_migrations(directory: Traversable | Path = MIGRATIONS) -> list[Migration]:
    """The migrations in ``directory``, in version order."""
    found: dict[int, Migration] = {}
    for entry in directory.iterdir():
        match = _MIGRATION_FILE.match(entry.name)
        if match is None:
            continue
        version = int(match.group(1))
        if version in found:
            msg = f"two migrations with version {version} in {directory}: {found[version].name}, {entry.name}"
            raise ClickHouseError(msg)
        text = "\n".join(line for line in entry.read_text("utf-8").splitlines() if not line.lstrip().startswith("--"))
        statements = tuple(s.strip() for s in _STATEMENT_END.split(text) if s.strip())
        found[version] = Migration(version, entry.name.removesuffix(".sql"), statements)
    return [found[version] for version in sorted(found)]


def migrate(client: Client, directory: Traversable | Path = MIGRATIONS) -> list[str]:
    """Apply the migrations not yet recorded in ``schema_migrations``, in order; return their names.

    Idempotent: a second run applies nothing. Statements are ``IF NOT EXISTS``, so two
    processes migrating at once only repeat harmless work (the ledger deduplicates).
    """
    _command(client, _LEDGER, "creating schema_migrations")
    applied = {row[0] for row in _query(client, "SELECT version FROM schema_migrations").result_rows}
    names = []
    for migration in load_migrations(directory):
        if migration.version in applied:
            continue
        for number, statement in enumerate(migration.statements, 1):
            _command(client, statement, f"migration {migration.name}, statement {number}")
        row = {"version": migration.version, "name": migration.name, "applied_at": datetime.now(UTC)}
        insert_rows(client, "schema_migrations", [row])
        names.append(migration.name)
    return names


def insert_rows(client: Client, table: str, rows: Sequence[dict[str, Any]]) -> int:
    """Insert ``rows`` (all with the same keys, the column names) in one batch; return how many."""
    if not rows:
        return 0
    columns = list(rows[0])
    for index, row in enumerate(rows):
        if row.keys() != rows[0].keys():
            msg = f"insert into {table}: row {index} has columns {sorted(row)}, row 0 has {sorted(columns)}"
            raise ClickHouseError(msg)
    data = [[row[column] for column in columns] for row in rows]
    try:
        client.insert(table, data, column_names=columns)
    except (ch_errors.ClickHouseError, TypeError, ValueError) as exc:
        msg = f"insert of {len(rows)} rows into {table} failed: {exc}"
        raise ClickHouseError(msg) from exc
    return len(rows)


def run_query(
    client: Client,
    sql: str,
    fmt: Literal["table", "json"] = "table",
    *,
    parameters: Mapping[str, Any] | None = None,
) -> str:
    """Run ``sql`` and render the result: an aligned text table, or JSON lines (one object per row).

    ``parameters`` are bound by the server to the ``{name:Type}`` placeholders of ``sql``.

    >>> print(_render_table(["n", "name"], [(1, "a"), (22, None)]))
     n | name
    ---+-----
     1 | a
    22 | NULL
    (2 rows)
    """
    if fmt not in ("table", "json"):
        msg = f"unknown output format {fmt!r}: use 'table' or 'json'"
        raise ValueError(msg)
    names, rows = select(client, sql, parameters=parameters)
    return render(names, rows, fmt)


def select(
    client: Client, sql: str, *, parameters: Mapping[str, Any] | None = None
) -> tuple[list[str], list[Sequence[Any]]]:
    """Run ``sql`` with server-side ``parameters``; its column names (an empty result's too) and rows."""
    sql = sql.strip().rstrip(";")
    result = _query(client, sql, parameters)
    names, rows = list(result.column_names), list(result.result_rows)
    if not names:  # an empty result carries no header: describe the query (not a SELECT: no header)
        with suppress(ch_errors.ClickHouseError):
            described = client.query(f"DESCRIBE ({sql}\n)", parameters=dict(parameters) if parameters else None)
            names = [row[0] for row in described.result_rows]
    return names, rows


def render(names: Sequence[str], rows: Sequence[Sequence[Any]], fmt: Literal["table", "json"] = "table") -> str:
    """``rows`` under ``names`` as an aligned text table or as JSON lines (one object per row)."""
    if fmt == "table":
        return _render_table(names, rows)
    return "\n".join(json.dumps(dict(zip(names, map(jsonable, row), strict=True)), allow_nan=False) for row in rows)


def _query(client: Client, sql: str, parameters: Mapping[str, Any] | None = None) -> Any:
    try:
        return client.query(sql, parameters=dict(parameters) if parameters else None)
    except ch_errors.ClickHouseError as exc:
        msg = f"query failed: {exc}"
        raise ClickHouseError(msg) from exc


def _command(client: Client, sql: str, what: str) -> None:
    try:
        client.command(sql)
    except ch_errors.ClickHouseError as exc:
        msg = f"{what} failed: {exc}"
        raise ClickHouseError(msg) from exc


def jsonable(value: Any) -> Any:
    """``value`` as JSON-safe data: ISO-8601 datetimes, null for NaN/inf, text for bytes and the rest."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float | Decimal):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, Iterable):
        return [jsonable(item) for item in value]
    return str(value)


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, float):
        return str(value)  # nan and inf as such, not JSON's null
    data = jsonable(value)
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return text.replace("\n", "\\n")


def _render_table(names: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [max([len(name)] + [len(row[i]) for row in cells]) for i, name in enumerate(names)]
    present = [[row[i] for row in rows if row[i] is not None] for i in range(len(names))]
    numeric = [bool(values) and all(isinstance(v, int | float | Decimal) for v in values) for values in present]

    def line(values: Sequence[str]) -> str:
        padded = (v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True))
        return " | ".join(padded).rstrip()

    rule = "-+-".join("-" * width for width in widths)
    footer = f"({len(rows)} row{'' if len(rows) == 1 else 's'})"
    header = [line(names), rule] if names else []
    return "\n".join([*header, *(line(row) for row in cells), footer])
