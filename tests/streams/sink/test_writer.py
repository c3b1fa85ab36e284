"""The writer's retry and isolation logic, against a stand-in client (the real engine: test_sink_process)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from clickhouse_connect.driver import exceptions as ch_errors

from infra.clickhouse import ClickHouseError
from infra.config import Settings
from streams.sink.batcher import Entry, Origin
from streams.sink.writer import ClickHouseWriter, Patience, WriteAborted
from tests.streams.sink.fakes import Events, Opener

ORIGIN = Origin("t.joined.events", 0, 1, None, b"v", datetime(2026, 1, 1, tzinfo=UTC))


def entries(*values: int) -> list[Entry]:
    return [Entry({"n": value}, ORIGIN) for value in values]


def down() -> ch_errors.OperationalError:
    return ch_errors.OperationalError("Network Error: connection refused")


def writer(opener: Opener, max_backoff: float = 4.0) -> ClickHouseWriter:
    return ClickHouseWriter(Settings(), open_client=opener, first_backoff=0.5, max_backoff=max_backoff)


def test_an_unavailable_clickhouse_is_retried_with_backoff_and_nothing_is_dropped() -> None:
    events: Events = []
    opener = Opener(events, failures=[down() for _ in range(5)])
    waits: list[float] = []
    sink = writer(opener)
    sink.setup(Patience(sleep=waits.append))
    tables = {"joined_events": entries(1, 2), "dead_letters": entries(3)}
    assert sink.write(tables, Patience(sleep=waits.append)) == []
    assert tables == {}
    assert events == [("insert", "joined_events", [{"n": 1}, {"n": 2}]), ("insert", "dead_letters", [{"n": 3}])]
    assert waits == [0.5, 1.0, 2.0, 4.0, 4.0]  # doubling, capped
    assert opener.opened == 6  # a fresh connection (and migration) after every failure


def test_connect_failures_at_setup_are_retried() -> None:
    attempts: list[int] = []

    def flaky_open() -> object:
        attempts.append(1)
        if len(attempts) < 3:
            msg = "cannot connect to ClickHouse at http://h:8123: refused"
            raise ClickHouseError(msg)
        return object()

    waits: list[float] = []
    ClickHouseWriter(Settings(), open_client=flaky_open).setup(Patience(sleep=waits.append))  # type: ignore[arg-type]
    assert len(attempts) == 3 and waits == [0.5, 1.0]


def test_a_stop_while_unavailable_aborts_and_keeps_the_unwritten_tables() -> None:
    events: Events = []
    stop = threading.Event()
    opener = Opener(events)
    sink = writer(opener)
    sink.setup(Patience())
    opener.failures.append(down())
    tables = {"joined_events": entries(1), "routing_history": entries(2)}
    stop.set()  # SIGTERM arrived: one attempt, then give up instead of waiting
    with pytest.raises(WriteAborted, match="insert of 1 rows into joined_events: gave up after 1 attempt"):
        sink.write(tables, Patience(stop=stop))
    assert events == []
    assert list(tables) == ["joined_events", "routing_history"]  # nothing lost: the caller still holds every row


def test_a_deadline_bounds_the_retries_and_tables_written_before_are_removed() -> None:
    events: Events = []
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    opener = Opener(events)
    sink = writer(opener)
    sink.setup(Patience())
    opener.failures.extend([None] + [down() for _ in range(100)])  # one insert, then ClickHouse goes away
    tables = {"joined_events": entries(1), "profiles": entries(2)}
    with pytest.raises(WriteAborted, match="profiles"):
        sink.write(tables, Patience(deadline=3.0, clock=lambda: now[0], sleep=sleep))
    assert now[0] == pytest.approx(3.0)  # waits are cut to the deadline: 0.5 + 1 + 1.5
    assert [event[1] for event in events] == ["joined_events"]
    assert list(tables) == ["profiles"]  # the written table left the batch; a retry writes only the rest


def test_rows_the_client_cannot_serialise_are_isolated_and_returned() -> None:
    events: Events = []
    sink = writer(Opener(events, bad=lambda row: row["n"] in (3, 6)))
    sink.setup(Patience())
    rejected = sink.write({"joined_events": entries(*range(8))}, Patience())
    assert [(r.table, r.entry.row) for r in rejected] == [("joined_events", {"n": 3}), ("joined_events", {"n": 6})]
    assert "native array" in rejected[0].detail
    written = sorted(row["n"] for _, _, rows in events for row in rows)
    assert written == [0, 1, 2, 4, 5, 7]  # every good row once


def test_server_errors_are_outages_not_bad_rows() -> None:
    events: Events = []
    opener = Opener(events, failures=[ch_errors.DatabaseError("Code: 241. MEMORY_LIMIT_EXCEEDED")])
    sink = writer(opener)
    waits: list[float] = []
    sink.setup(Patience())
    assert sink.write({"joined_events": entries(1)}, Patience(sleep=waits.append)) == []
    assert waits == [0.5] and len(events) == 1
