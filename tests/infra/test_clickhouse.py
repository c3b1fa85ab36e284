"""ClickHouse access against the real engine: embedded chDB, or the server named by INSITU_CLICKHOUSE_DSN.

chDB hosts one engine (one data path) per process, so every test here shares one data
directory and isolates itself in a database of its own.
"""

from __future__ import annotations

import json
import shutil
import traceback
from datetime import UTC, datetime
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client

from infra.clickhouse import MIGRATIONS, ClickHouseError, connect, insert_rows, migrate, run_query
from infra.config import Settings

TABLES = {
    "joined_events",
    "metric_snapshots",
    "profiles",
    "synthetic_batches",
    "model_versions",
    "routing_history",
    "command_audit",
    "dead_letters",
    "stage_lag",
}
TS = datetime(2024, 5, 1, 12, 0, 0, 123000, tzinfo=UTC)


@pytest.fixture
def settings(analytics_settings: Settings) -> Settings:
    return analytics_settings


@pytest.fixture
def client(clickhouse: Client) -> Client:
    return clickhouse


@pytest.fixture
def schema(analytics: Client) -> Client:
    return analytics


def tables(client: Client) -> set[str]:
    rows = client.query("SELECT name FROM system.tables WHERE database = currentDatabase()").result_rows
    return {row[0] for row in rows}


def joined(request_id: str = "r1", **changes: object) -> dict[str, object]:
    row: dict[str, object] = {
        "request_id": request_id,
        "route": "fraud",
        "instance_id": "fraud-a",
        "model_version": 3,
        "inference_ts": TS,
        "feedback_ts": TS,
        "features": {"amount": 12.5, "age": 41.0},
        "attributes": {"country": "NL"},
        "prediction": "ok",
        "probabilities": {"ok": 0.9, "fraud": 0.1},
        "label": "fraud",
        "correct": 0,
    }
    return row | changes


def dead_letter(**changes: object) -> dict[str, object]:
    row: dict[str, object] = {
        "original_topic": "inference.events",
        "original_partition": 2,
        "original_offset": 17,
        "original_key": b"r1",
        "original_value": b"\x00\x01garbage",
        "reason": "undecodable",
        "detail": "bad magic byte",
        "source": "streams.join",
        "ts": TS,
    }
    return row | changes


def test_migrate_creates_every_table_and_is_idempotent(client: Client) -> None:
    assert migrate(client) == ["0001_analytics", "0002_dead_letter_sizes", "0003_stage_lag"]
    assert tables(client) == TABLES | {"schema_migrations"}
    assert migrate(client) == []
    assert tables(client) == TABLES | {"schema_migrations"}
    applied = client.query("SELECT version, name FROM schema_migrations FINAL ORDER BY version").result_rows
    assert applied == [(1, "0001_analytics"), (2, "0002_dead_letter_sizes"), (3, "0003_stage_lag")]


def test_migrate_applies_only_the_new_files_in_order(client: Client, tmp_path: Path) -> None:
    for entry in MIGRATIONS.iterdir():
        if entry.name.endswith(".sql"):
            (tmp_path / entry.name).write_text(entry.read_text("utf-8"))
    migrate(client, tmp_path)
    (tmp_path / "0010_later.sql").write_text("ALTER TABLE extra ADD COLUMN IF NOT EXISTS b UInt8;\n")
    (tmp_path / "0005_extra.sql").write_text(
        "-- a comment; with a semicolon\nCREATE TABLE IF NOT EXISTS extra (a UInt8)\nENGINE = MergeTree ORDER BY a;\n"
        "INSERT INTO extra VALUES (1);\n"
    )
    assert migrate(client, tmp_path) == ["0005_extra", "0010_later"]
    assert client.query("SELECT a, b FROM extra").result_rows == [(1, 0)]
    assert migrate(client, tmp_path) == []


def test_a_failing_migration_names_the_file_and_is_not_recorded(client: Client, tmp_path: Path) -> None:
    (tmp_path / "0001_broken.sql").write_text("CREATE TABLE nope (a UInt8) ENGINE = NoSuchEngine;\n")
    with pytest.raises(ClickHouseError, match=r"0001_broken, statement 1 .*NoSuchEngine"):
        migrate(client, tmp_path)
    assert client.query("SELECT count() FROM schema_migrations").result_rows == [(0,)]


def test_joined_events_round_trip_with_maps(schema: Client) -> None:
    assert insert_rows(schema, "joined_events", [joined("r1"), joined("r2", correct=1, label="ok")]) == 2
    result = schema.query("SELECT * FROM joined_events ORDER BY request_id")
    rows = [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]
    assert [row["request_id"] for row in rows] == ["r1", "r2"]
    first = rows[0]
    ingested_at = first.pop("ingested_at")
    assert first == joined("r1")
    assert first["inference_ts"].tzinfo is not None  # aware UTC, not naive
    assert isinstance(ingested_at, datetime)
    assert ingested_at.tzinfo is not None


def test_replayed_rows_collapse_with_final(schema: Client) -> None:
    for _ in range(2):  # two inserts: two parts, as a replay after a restart would write
        insert_rows(schema, "joined_events", [joined("r1"), joined("r2")])
        insert_rows(schema, "dead_letters", [dead_letter()])
    assert schema.query("SELECT count() FROM joined_events FINAL").result_rows == [(2,)]
    assert schema.query("SELECT count() FROM dead_letters FINAL").result_rows == [(1,)]


def test_distinct_dead_letters_from_outside_kafka_are_all_kept(schema: Client) -> None:
    outside = {"original_partition": -1, "original_offset": -1}
    rows = [dead_letter(**outside), dead_letter(**outside, original_value=b"other"), dead_letter(**outside)]
    insert_rows(schema, "dead_letters", rows)
    assert schema.query("SELECT count() FROM dead_letters FINAL").result_rows == [(2,)]


def test_run_query_renders_an_aligned_table(schema: Client) -> None:
    insert_rows(schema, "joined_events", [joined("r1"), joined("r22", model_version=12)])
    sql = "SELECT request_id, model_version, inference_ts FROM joined_events ORDER BY request_id;"
    assert run_query(schema, sql).splitlines() == [
        "request_id | model_version | inference_ts",
        "-----------+---------------+---------------------------------",
        "r1         |             3 | 2024-05-01T12:00:00.123000+00:00",
        "r22        |            12 | 2024-05-01T12:00:00.123000+00:00",
        "(2 rows)",
    ]
    empty = run_query(schema, "SELECT request_id FROM joined_events WHERE model_version = 99")
    assert empty.splitlines() == ["request_id", "----------", "(0 rows)"]


def test_run_query_renders_json_lines(schema: Client) -> None:
    insert_rows(schema, "joined_events", [joined("r1")])
    out = run_query(schema, "SELECT request_id, features, inference_ts, nan AS x FROM joined_events", fmt="json")
    assert [json.loads(line) for line in out.splitlines()] == [
        {
            "request_id": "r1",
            "features": {"amount": 12.5, "age": 41.0},
            "inference_ts": "2024-05-01T12:00:00.123000+00:00",
            "x": None,
        }
    ]


def test_bad_sql_raises_with_the_servers_message(schema: Client) -> None:
    with pytest.raises(ClickHouseError, match="UNKNOWN_TABLE") as info:
        run_query(schema, "SELECT * FROM no_such_table")
    assert "no_such_table" in str(info.value)
    with pytest.raises(ClickHouseError, match="SYNTAX_ERROR"):
        run_query(schema, "SELEC 1")


def test_insert_rows_writes_nothing_for_no_rows_and_rejects_ragged_rows(schema: Client) -> None:
    assert insert_rows(schema, "joined_events", []) == 0
    ragged: list[dict[str, object]] = [joined("r1"), {"request_id": "r2"}]
    with pytest.raises(ClickHouseError, match="joined_events: row 1"):
        insert_rows(schema, "joined_events", ragged)
    assert schema.query("SELECT count() FROM joined_events").result_rows == [(0,)]


def test_a_second_client_on_the_same_path_shares_the_engine(settings: Settings, schema: Client) -> None:
    database = schema.query("SELECT currentDatabase()").result_rows[0][0]
    insert_rows(schema, "joined_events", [joined("r1")])
    other = connect(settings, database=database)
    try:
        assert other.query("SELECT count() FROM joined_events").result_rows == [(1,)]
    finally:
        other.close()


def test_a_second_chdb_path_in_the_same_process_fails_clearly(
    settings: Settings, client: Client, tmp_path: Path
) -> None:
    if not settings.clickhouse_target.startswith("chdb:"):
        pytest.skip("embedded chDB only")
    with pytest.raises(ClickHouseError, match="cannot connect to ClickHouse at chdb://") as info:
        connect(Settings(data_dir=tmp_path, clickhouse_dsn=None))
    assert "already initialized" in str(info.value)
    shutil.rmtree(tmp_path / "clickhouse", ignore_errors=True)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("scheme", ["http", "https"])
def test_connect_failure_names_the_server_but_not_the_password(tmp_path: Path, scheme: str) -> None:
    settings = Settings(data_dir=tmp_path, clickhouse_dsn=f"{scheme}://user:secret@127.0.0.1:1/db")
    with pytest.raises(ClickHouseError) as info:
        connect(settings, connect_timeout=1)
    message = str(info.value)
    assert f"{scheme}://user:***@127.0.0.1:1/db" in message
    assert f"({scheme}://127.0.0.1:1)" in message  # the DSN's scheme is honoured: https stays https
    assert "secret" not in "".join(traceback.format_exception(info.value))
