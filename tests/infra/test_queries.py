"""Named queries: the catalog's contract, each query's numbers on a known history, ``insitu query``."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from clickhouse_connect.driver.client import Client

from infra.app.cli import main
from infra.clickhouse import ClickHouseError
from infra.config import Settings
from infra.queries import (
    QueryError,
    QueryParameterError,
    UnknownQueryError,
    get_query,
    parse_assignments,
    parse_query,
    run_named,
    shipped,
)
from tests.infra.analytics_rows import GATE_A, GATE_B, at, write_history

REQUIRED = {
    "accuracy_per_instance_hourly",
    "weak_slices_over_time",
    "finetune_effect",
    "traffic_share_history",
    "command_audit",
    "dead_letters_by_reason",
}
REPLACING_TABLES = {
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


def rows(client: Client, name: str, **params: Any) -> list[dict[str, Any]]:
    return run_named(client, name, params).records()


@pytest.fixture
def history(analytics: Client) -> Client:
    write_history(analytics)
    return analytics


# -- the catalog: the same checks on every shipped query ---------------------------------------


def test_the_required_queries_are_shipped() -> None:
    assert set(shipped()) >= REQUIRED


@pytest.mark.parametrize("name", sorted(shipped()))
def test_every_query_is_described_and_runs_on_defaults(name: str) -> None:
    query = shipped()[name]
    assert query.description and "\n" not in query.description
    assert query.params, "every query filters by time or scope"
    assert all(not p.required for p in query.params), "defaults make a bare --named NAME work"
    assert all(p.description for p in query.params)


@pytest.mark.parametrize("name", sorted(shipped()))
def test_every_query_reads_replacing_tables_with_final(name: str) -> None:
    sql = shipped()[name].body
    tables = re.findall(r"\bFROM\s+(\w+)(\s+FINAL)?", sql)
    read = [(table, final) for table, final in tables if table in REPLACING_TABLES]
    assert read, "a query reads at least one analytics table"
    assert all(final for _, final in read), read


@pytest.mark.parametrize("name", sorted(shipped()))
def test_every_query_runs_on_an_empty_store_and_names_its_columns(analytics: Client, name: str) -> None:
    result = run_named(analytics, name)
    assert result.rows == ()
    assert result.columns and len(set(result.columns)) == len(result.columns)
    assert result.render().endswith("(0 rows)")


# -- each query's numbers ---------------------------------------------------------------------


def test_accuracy_per_instance_hourly(history: Client) -> None:
    got = [
        (r["hour"], r["instance_id"], r["events"], r["correct_events"], r["accuracy"], r["versions"])
        for r in rows(history, "accuracy_per_instance_hourly")
    ]
    assert got == [  # credit-a's replayed events count once
        (at(0), "credit-a", 10, 6, 0.6, [3]),
        (at(0), "credit-b", 5, 5, 1.0, [2]),
        (at(0), "fraud-a", 2, 1, 0.5, [1]),
        (at(60), "credit-a", 10, 9, 0.9, [4]),
    ]
    scoped = rows(history, "accuracy_per_instance_hourly", route="credit", instance="credit-a", since=at(30))
    assert [(r["hour"], r["accuracy"]) for r in scoped] == [(at(60), 0.9)]


def test_accuracy_over_time_in_buckets_of_a_given_width(history: Client) -> None:
    minute = rows(history, "accuracy_over_time", bucket_s=60, instance="credit-a")
    assert [(r["bucket"], r["events"], r["accuracy"]) for r in minute] == [
        (at(0), 6, 1.0),
        (at(1), 4, 0.0),
        (at(60), 6, 1.0),
        (at(61), 4, 0.75),
    ]
    half_minutes = rows(history, "accuracy_over_time", bucket_s=30, instance="credit-a", until=at(1))
    assert [(r["bucket"], r["correct_events"]) for r in half_minutes] == [(at(0), 3), (at(0, 30), 3)]


def test_instance_summary_takes_final_accuracy_over_the_latest_events(history: Client) -> None:
    summary = {r["instance_id"]: r for r in rows(history, "instance_summary", final_events=10)}
    a = summary["credit-a"]
    assert (a["events"], a["correct_events"], a["accuracy"]) == (20, 15, 0.75)
    assert (a["final_window_events"], a["final_accuracy"]) == (10, 0.9)
    assert (a["latest_version"], a["versions"]) == (4, [3, 4])
    assert (a["first_ts"], a["last_ts"]) == (at(0), at(61, 30))
    four = {r["instance_id"]: r["final_accuracy"] for r in rows(history, "instance_summary", final_events=4)}
    assert four == {"credit-a": 0.75, "credit-b": 1.0, "fraud-a": 0.5}


def test_weak_slices_over_time(history: Client) -> None:
    got = [
        (r["created_ts"], r["profile_version"], r["rank"], r["slice"], r["error"], r["support"])
        for r in rows(history, "weak_slices_over_time")
    ]
    assert got == [
        (at(5), 7, 1, "age < 30", 0.5, 40),
        (at(5), 7, 2, "20 <= age < 40 and region = north", 0.4, 120),
        (at(50), 8, 0, "", None, 0),  # no weak slice left: the profile still shows
    ]
    assert [r["rank"] for r in rows(history, "weak_slices_over_time", top=1)] == [1, 0]


def test_finetune_effect_joins_the_gate_metrics_with_the_versions_fate(history: Client) -> None:
    effects = rows(history, "finetune_effect")
    assert [(r["instance_id"], r["version"], r["parent_version"]) for r in effects] == [
        ("credit-a", 4, 3),
        ("credit-b", 3, 2),
    ]
    a, b = effects
    for row, gate in ((a, GATE_A), (b, GATE_B)):
        for key, value in gate.items():
            assert row[key] == pytest.approx(value), key
    assert a["slice_gain"] == pytest.approx(0.3)
    assert a["complement_change"] == pytest.approx(-0.01)
    assert (a["finetuned_ts"], a["latest_status"], a["status_ts"]) == (at(40), "rolled_back", at(80))
    assert a["history"] == "candidate > promoted > rolled_back"
    assert (a["finetune_reason"], a["status_reason"]) == ("fine-tuned", "rollback by alice")
    assert (b["latest_status"], b["history"]) == ("rejected", "rejected")
    assert rows(history, "finetune_effect", since=at(41)) == [rows(history, "finetune_effect")[1]]


def test_version_timeline_and_rollbacks(history: Client) -> None:
    timeline = rows(history, "version_timeline")
    assert [(r["ts"], r["instance_id"], r["version"], r["status"]) for r in timeline] == [
        (at(40), "credit-a", 4, "candidate"),
        (at(45), "credit-b", 3, "rejected"),
        (at(55), "credit-a", 4, "promoted"),
        (at(80), "credit-a", 3, "promoted"),
        (at(80), "credit-a", 4, "rolled_back"),
    ]
    promoted = rows(history, "version_timeline", status="promoted", instance="credit-a")
    assert [r["version"] for r in promoted] == [4, 3]
    (rollback,) = rows(history, "rollbacks")
    assert (rollback["instance_id"], rollback["version"], rollback["reason"]) == ("credit-a", 4, "rollback by alice")
    assert (rollback["candidate_ts"], rollback["promoted_ts"], rollback["rolled_back_ts"]) == (at(40), at(55), at(80))
    assert rollback["candidate_for_s"] == 40 * 60
    assert rows(history, "rollbacks", until=at(80)) == []


def test_traffic_share_history(history: Client) -> None:
    credit = rows(history, "traffic_share_history", route="credit")
    assert [(r["epoch"], r["instance_id"], r["version"], r["role"], r["share"]) for r in credit] == [
        (1, "credit-a", 3, "stable", 0.5),
        (1, "credit-b", 2, "stable", 0.5),
        (2, "credit-a", 3, "stable", 0.4),
        (2, "credit-a", 4, "canary", 0.1),
        (2, "credit-b", 2, "stable", 0.5),
        (3, "credit-a", 4, "stable", 0.5),
        (3, "credit-b", 2, "stable", 0.5),
        (4, "credit-a", 3, "stable", 0.5),
        (4, "credit-b", 2, "stable", 0.5),
    ]
    fraud = rows(history, "traffic_share_history", route="fraud")
    assert [(r["instance_id"], r["weight"], r["share"]) for r in fraud] == [
        ("fraud-a", 3.0, 0.75),
        ("fraud-b", 1.0, 0.25),
    ]
    only_b = rows(history, "traffic_share_history", instance="credit-b", since=at(50))
    assert [(r["epoch"], r["share"]) for r in only_b] == [(3, 0.5), (4, 0.5)]  # shares of the whole route


def test_command_audit(history: Client) -> None:
    audit = rows(history, "command_audit")
    assert [(r["command_id"], r["action"], r["targets"], r["result"], r["reason"]) for r in audit] == [
        ("cmd-1", "rollback", ["instance:credit-a@3"], "accepted", ""),
        ("cmd-2", "freeze", ["route:credit"], "rejected", "bad_signature"),
        ("cmd-3", "pin", ["instance:credit-b@2"], "rejected", "stale"),
    ]
    assert [r["command_id"] for r in rows(history, "command_audit", result="rejected")] == ["cmd-2", "cmd-3"]
    assert [r["command_id"] for r in rows(history, "command_audit", instance="credit-b")] == ["cmd-3"]
    assert [r["command_id"] for r in rows(history, "command_audit", instance="credit")] == []  # not a prefix match
    assert [r["command_id"] for r in rows(history, "command_audit", action="rollback")] == ["cmd-1"]


def test_dead_letters_by_reason(history: Client) -> None:
    got = [
        (r["reason"], r["original_topic"], r["dead_letters"], r["first_ts"], r["example_detail"])
        for r in rows(history, "dead_letters_by_reason")
    ]
    assert got == [  # the replayed offset 1 counts once
        ("undecodable", "inference.events", 3, at(10, 1), "undecodable #1"),
        ("unknown_request", "feedback.events", 1, at(20), "unknown_request #9"),
    ]
    assert [r["reason"] for r in rows(history, "dead_letters_by_reason", topic="feedback.events")] == [
        "unknown_request"
    ]


def test_stage_lag(history: Client) -> None:
    got = [
        (r["stage"], r["measurements"], r["processes"], r["max_messages_behind"], r["max_delay_s"])
        for r in rows(history, "stage_lag")
    ]
    assert got == [("join", 4, 2, 500, 2.4), ("sink", 1, 1, 3, 0.9)]
    (join,) = rows(history, "stage_lag", stage="join", since=at(0, 5))
    assert (join["measurements"], join["max_delay_s"]) == (3, 2.4)  # the measurement without delay has none


# -- parameters and errors --------------------------------------------------------------------


def test_parameters_are_coerced_from_text() -> None:
    query = get_query("accuracy_over_time")
    bound = query.bind({"bucket_s": "10", "since": "2026-11-24T10:00:00Z", "until": "2026-11-24 12:00:00"})
    assert bound["bucket_s"] == 10
    assert bound["since"] == datetime(2026, 11, 24, 10, tzinfo=UTC)
    assert bound["until"] == datetime(2026, 11, 24, 12, tzinfo=UTC)  # naive means UTC
    assert bound["route"] == ""
    assert query.bind({"since": "2026-11-24T12:00:00+02:00"})["since"] == datetime(2026, 11, 24, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"bucket": "10"}, r"query 'accuracy_over_time' has no parameter 'bucket'; it accepts: bucket_s, route"),
        ({"bucket_s": "ten"}, r"parameter 'bucket_s' \(UInt32\): expected an integer, got 'ten'"),
        ({"bucket_s": -5}, r"parameter 'bucket_s' \(UInt32\): expected a non-negative integer, got -5"),
        ({"since": "yesterday"}, r"parameter 'since' \(DateTime64\(3, 'UTC'\)\): expected an ISO 8601 date-time"),
        ({"route": 7}, r"parameter 'route' \(String\): expected text"),
    ],
)
def test_bad_parameters_are_refused_with_their_name(params: dict[str, Any], message: str) -> None:
    with pytest.raises(QueryParameterError, match=message):
        get_query("accuracy_over_time").bind(params)


def test_a_missing_required_parameter_is_named() -> None:
    query = parse_query("top", "-- Top instances.\n-- @param n | how many\nSELECT 1 LIMIT {n:UInt32}")
    with pytest.raises(QueryParameterError, match=r"query 'top' needs parameter 'n' \(UInt32\): how many"):
        query.bind({})
    assert query.bind({"n": "3"}) == {"n": 3}


def test_an_unknown_name_lists_the_available_queries() -> None:
    with pytest.raises(UnknownQueryError, match="no named query 'accuracy'; available: accuracy_over_time, ") as info:
        get_query("accuracy")
    assert all(name in str(info.value) for name in REQUIRED)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("SELECT 1", "must start with a comment line"),
        ("-- x\nSELECT {a:UInt8}", r"parameter\(s\) a used in the SQL but not declared"),
        ("-- x\n-- @param a = 1\nSELECT 1", "'a' is declared but its SQL has no"),
        ("-- x\n-- @param a = 1\nSELECT {a:UInt8}, {a:String}", "'a' is used as UInt8 and as String"),
        ("-- x\n-- @param a = 1\n-- @param a = 2\nSELECT {a:UInt8}", "'a' is declared twice"),
        ("-- x\n-- @param a = x\nSELECT {a:UInt8}", r"parameter 'a' \(UInt8\): expected an integer"),
        ("-- x\n-- @param = 1\nSELECT 1", "malformed line"),
    ],
)
def test_malformed_query_files_are_refused(text: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        parse_query("q", text)


def test_quoted_defaults_and_assignments() -> None:
    query = parse_query("q", "-- x\n-- @param s = 'a b' | text\nSELECT {s:String}")
    assert query.params[0].default == "a b"
    assert parse_assignments(["a=1", "b=x=y", "c="]) == {"a": "1", "b": "x=y", "c": ""}
    with pytest.raises(QueryParameterError, match="write NAME=VALUE"):
        parse_assignments(["a"])
    with pytest.raises(QueryParameterError, match="'a' is given twice"):
        parse_assignments(["a=1", "a=2"])


def test_values_are_bound_by_the_server_not_spliced(history: Client) -> None:
    hostile = "credit' OR '1'='1"
    assert rows(history, "accuracy_per_instance_hourly", route=hostile) == []
    echo = parse_query("echo", "-- Echo.\n-- @param s = x | s\nSELECT {s:String} AS s")
    assert run_named(history, echo, {"s": hostile}).rows == ((hostile,),)


def test_a_server_error_surfaces_as_clickhouse_error(analytics: Client) -> None:
    broken = parse_query("broken", "-- Broken.\n-- @param n = 1 | n\nSELECT {n:UInt8} FROM no_such_table")
    with pytest.raises(ClickHouseError, match="no_such_table"):
        run_named(analytics, broken)


# -- insitu query -----------------------------------------------------------------------------


def database_dsn(target: str, database: str) -> str:
    """``target`` with ``database`` as its database (chDB: a query parameter; a server: the path)."""
    if target.startswith("chdb:"):
        return f"{target}?database={database}"
    parts = urlsplit(target)
    return urlunsplit(parts._replace(path=f"/{database}"))


@pytest.fixture
def cli(analytics_settings: Settings, history: Client, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The environment ``insitu`` reads: the test's data dir and its database, holding the history."""
    database = history.query("SELECT currentDatabase()").result_rows[0][0]
    monkeypatch.setenv("INSITU_DATA_DIR", str(analytics_settings.data_dir))
    monkeypatch.setenv("INSITU_CLICKHOUSE_DSN", database_dsn(analytics_settings.clickhouse_target, database))
    return analytics_settings


def test_cli_runs_a_named_query_with_parameters(cli: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["query", "--named", "accuracy_per_instance_hourly", "--param", "instance=credit-a", "--format", "json"]
    assert main(argv) == 0
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["hour"], r["events"], r["accuracy"]) for r in out] == [
        ("2026-11-24T10:00:00+00:00", 10, 0.6),
        ("2026-11-24T11:00:00+00:00", 10, 0.9),
    ]
    argv = ["query", "--named", "accuracy_over_time", "--param", "bucket_s=3600", "--param", "since=2026-11-24T10:30Z"]
    assert main(argv) == 0
    table = capsys.readouterr().out.splitlines()
    assert [cell.strip() for cell in table[0].split(" | ")[:3]] == ["bucket", "route", "instance_id"]
    assert [line.split(" | ")[2].strip() for line in table[2:-1]] == ["credit-b", "fraud-a", "credit-a"]
    assert table[-1] == "(3 rows)"


def test_cli_keeps_running_plain_sql(cli: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["query", "SELECT count() AS n FROM joined_events FINAL"]) == 0
    assert capsys.readouterr().out.splitlines() == [" n", "--", "27", "(1 row)"]
    assert main(["query", "SELECT {n:UInt8} + 1 AS m", "--param", "n=41", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"m": 42}


def test_cli_lists_the_named_queries(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["query", "--list"]) == 0
    out = capsys.readouterr().out
    for name, query in shipped().items():
        assert re.search(rf"^{name} +{re.escape(query.description)}$", out, re.MULTILINE)
    assert "params: bucket_s=60 route='' instance=''" in out
    assert main(["query", "--list", "--format", "json"]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [q["name"] for q in listed] == sorted(shipped())
    hourly = next(q for q in listed if q["name"] == "accuracy_over_time")
    assert hourly["params"][0] == {
        "name": "bucket_s",
        "type": "UInt32",
        "default": "60",
        "description": "bucket width in seconds (at least 1)",
    }


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["query", "--named", "nope"], "UnknownQueryError: no named query 'nope'; available: accuracy_over_time"),
        (["query"], "give either SQL or --named NAME"),
        (["query", "SELECT 1", "--named", "command_audit"], "give either SQL or --named NAME"),
        (["query", "--list", "--named", "command_audit"], "--list takes no SQL"),
        (["query", "--named", "command_audit", "--param", "who=x"], "has no parameter 'who'; it accepts: action"),
        (["query", "--named", "command_audit", "--param", "since"], "parameter 'since': write NAME=VALUE"),
    ],
)
def test_cli_errors_are_one_clear_line(
    argv: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("INSITU_DATA_DIR", str(tmp_path))  # nothing may connect: no engine is opened here
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("insitu: ")
    assert message in captured.err
    assert not (tmp_path / "clickhouse").exists()
