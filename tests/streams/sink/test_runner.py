"""The runner's ordering guarantees with stand-ins: rows written first, offsets committed after, never before."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from clickhouse_connect.driver import exceptions as ch_errors

from schemas import Serde
from streams.sink.config import SinkSettings
from streams.sink.runner import SOURCE, SinkRunner
from streams.sink.writer import ClickHouseWriter, Patience
from tests.samples import SAMPLES
from tests.streams.sink.fakes import Events, FakeConsumer, FakeMessage, Opener

SERDE = Serde()
TS_MS = 1_795_514_400_000
GARBAGE = b"not avro at all"


def encoded(topic: str, **changes: object) -> bytes:
    return SERDE.encode(topic, SERDE.from_json(topic, SAMPLES[topic]) | changes)


def message(topic: str, partition: int, offset: int, value: bytes | None, key: bytes | None = b"k") -> FakeMessage:
    return FakeMessage(f"p.{topic}", partition, offset, key, value, TS_MS + offset)


def runner(events: Events, messages: list[FakeMessage], opener: Opener, **settings: object) -> SinkRunner:
    config = SinkSettings(topic_prefix="p.", kafka_bootstrap="unused:9092", **settings)  # type: ignore[arg-type]
    sink = SinkRunner(
        config,
        writer=ClickHouseWriter(config, open_client=opener),
        serde=SERDE,
        consumer_factory=lambda: FakeConsumer(events, messages),
    )
    sink.setup()
    return sink


def no_wait(seconds: float) -> None:
    pass


def test_rows_are_written_before_their_offsets_are_committed() -> None:
    events: Events = []
    down = ch_errors.OperationalError("Network Error: connection refused")
    opener = Opener(events, failures=[down, down])
    messages = [
        message("joined.events", 0, 0, encoded("joined.events")),
        message("joined.events", 0, 1, GARBAGE),
        message("profiles", 0, 2, None),  # a deleted profile: nothing to write, offset still committed
        message("routing.weights", 0, 3, None, key=b"fraud"),  # a removed route
        message("joined.events", 1, 5, encoded("joined.events", request_id="req-2")),
    ]
    sink = runner(events, messages, opener, sink_batch_rows=1000)
    sink.poll(max_wait=0)
    assert events == []  # not due yet: nothing written, nothing committed
    assert sink.flush(Patience(sleep=no_wait))
    inserts = [event for event in events if event[0] == "insert"]
    assert [(table, len(rows)) for _, table, rows in inserts] == [
        ("joined_events", 2),
        ("dead_letters", 1),
        ("routing_history", 1),
    ]
    assert events[-1] == (
        "commit",
        {("p.joined.events", 0): 2, ("p.joined.events", 1): 6, ("p.profiles", 0): 3, ("p.routing.weights", 0): 4},
    )
    assert [event[0] for event in events].count("commit") == 1
    (dead,) = inserts[1][2]
    assert (dead["original_topic"], dead["original_partition"], dead["original_offset"]) == ("p.joined.events", 0, 1)
    assert (dead["reason"], dead["source"], dead["original_value"], dead["original_key"]) == (
        "undecodable",
        SOURCE,
        GARBAGE,
        b"k",
    )
    assert dead["ts"] == datetime.fromtimestamp((TS_MS + 1) / 1000, tz=UTC)  # Kafka's timestamp: stable on replay
    (removed,) = inserts[2][2]
    assert (removed["route"], removed["instance_id"], removed["reason"]) == ("fraud", "", "route removed")
    assert sink.stats.rows == {"joined_events": 2, "dead_letters": 1, "routing_history": 1}
    assert (sink.stats.messages, sink.stats.dead_letters, sink.stats.tombstones) == (5, {"undecodable": 1}, 1)


def test_a_flush_is_due_at_the_batch_size(caplog: pytest.LogCaptureFixture) -> None:
    events: Events = []
    messages = [message("joined.events", 0, i, encoded("joined.events", request_id=f"r{i}")) for i in range(3)]
    sink = runner(events, messages, Opener(events), sink_batch_rows=2)
    with caplog.at_level(logging.INFO, logger="streams.sink.runner"):
        sink.poll(max_wait=0)
    assert [event[:2] for event in events] == [("insert", "joined_events"), ("commit", {("p.joined.events", 0): 2})]
    assert [row["request_id"] for row in events[0][2]] == ["r0", "r1"]  # the third waits for the next batch
    (line,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("flushed")]
    assert "flushed 2 message(s) -> 2 row(s)" in line and "joined_events=2" in line


def test_rows_the_client_cannot_write_become_dead_letters_and_the_rest_is_committed() -> None:
    events: Events = []
    opener = Opener(events, bad=lambda row: row.get("request_id") == "bad")
    messages = [
        message("joined.events", 0, 0, encoded("joined.events", request_id="good")),
        message("joined.events", 0, 1, encoded("joined.events", request_id="bad")),
    ]
    sink = runner(events, messages, opener)
    sink.poll(max_wait=0)
    assert sink.flush(Patience(sleep=no_wait))
    inserted = {table: rows for kind, table, rows in (e for e in events if e[0] == "insert")}
    assert [row["request_id"] for row in inserted["joined_events"]] == ["good"]
    (dead,) = inserted["dead_letters"]
    assert (dead["reason"], dead["original_offset"]) == ("unwritable", 1)
    assert dead["detail"].startswith("joined_events: ")
    assert events[-1] == ("commit", {("p.joined.events", 0): 2})
    assert sink.stats.rows == {"joined_events": 1, "dead_letters": 1}


def test_shutdown_with_clickhouse_down_commits_nothing_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    events: Events = []
    opener = Opener(events, failures=[ch_errors.OperationalError("refused") for _ in range(10)])
    sink = runner(events, [message("joined.events", 0, 0, encoded("joined.events"))], opener, sink_shutdown_seconds=0)
    sink.poll(max_wait=0)
    with caplog.at_level(logging.INFO, logger="streams.sink.runner"):
        assert sink.shutdown() is False
    assert events == []
    assert "1 row(s) left unwritten; their offsets are not committed" in caplog.text
    assert "sink stopped: messages=1 flushes=0 rows=0" in caplog.text


def test_a_record_the_sink_fails_on_becomes_a_dead_letter(monkeypatch: pytest.MonkeyPatch) -> None:
    import streams.sink.runner as module

    def fragile(topic: str, record: dict[str, object]) -> object:
        if record["request_id"] == "bad":
            msg = "maximum recursion depth exceeded"
            raise RecursionError(msg)
        return real(topic, record)

    real = module.to_rows
    monkeypatch.setattr(module, "to_rows", fragile)
    events: Events = []
    messages = [
        message("joined.events", 0, 0, encoded("joined.events", request_id="bad")),
        message("joined.events", 0, 1, encoded("joined.events", request_id="good")),
    ]
    sink = runner(events, messages, Opener(events))
    sink.poll(max_wait=0)
    assert sink.flush(Patience(sleep=no_wait))
    inserted = {table: rows for kind, table, rows in (e for e in events if e[0] == "insert")}
    assert [row["request_id"] for row in inserted["joined_events"]] == ["good"]
    (dead,) = inserted["dead_letters"]
    assert (dead["reason"], dead["original_offset"], dead["detail"]) == (
        "processing_error",
        0,
        "RecursionError: maximum recursion depth exceeded",
    )
    assert events[-1] == ("commit", {("p.joined.events", 0): 2})


def test_the_sink_reports_its_lag_from_what_it_consumed() -> None:
    events: Events = []
    sent: list[dict] = []
    messages = [
        message("joined.events", 0, offset, encoded("joined.events", request_id=f"r{offset}")) for offset in (3, 4)
    ]
    config = SinkSettings(topic_prefix="p.", kafka_bootstrap="unused:9092", lag_interval=5)
    now = [0.0]
    fake = FakeConsumer(events, messages)
    fake.ends = {("p.joined.events", 0): 10, ("p.joined.events", 1): 7}
    sink = SinkRunner(
        config,
        writer=ClickHouseWriter(config, open_client=Opener(events)),
        serde=SERDE,
        consumer_factory=lambda: fake,
        clock=lambda: now[0],
        lag_sender=sent.append,
    )
    sink.setup()
    sink.poll(max_wait=0)
    assert sent == []  # not due yet
    now[0] = 5.0
    sink.poll(max_wait=0)
    (record,) = sent
    assert (record["stage"], record["processed"], record["messages_behind"]) == ("sink", 2, 5)  # 10 - 4 - 1 on p0
    assert record["delay_max_ms"] is not None and record["newest_age_ms"] is not None
