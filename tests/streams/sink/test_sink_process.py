"""``python -m streams.sink`` against the real broker and the real (embedded) ClickHouse.

The sink runs as a subprocess with a data directory of its own: chDB hosts one engine per
process, and this pytest process may already hold another path. Results are read back
through a second subprocess on the same data directory, after the sink has exited.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaException, TopicPartition

from infra.config import Settings
from infra.kafka_clients import producer
from infra.topics import message_key
from schemas import Serde
from streams.sink.config import SinkSettings
from streams.sink.mapping import TABLES
from tests.samples import SAMPLES

pytestmark = pytest.mark.kafka
REPO = Path(__file__).resolve().parents[3]
GARBAGE = b"not avro at all"
QUERY = """
import json, sys
from infra.clickhouse import connect, run_query
from infra.config import Settings
client = connect(Settings())
for sql in sys.argv[1:]:
    print(json.dumps([json.loads(line) for line in run_query(client, sql, fmt="json").splitlines()]))
"""
COUNTS = " UNION ALL ".join(
    f"SELECT '{table}' AS t, count() AS n FROM {table} FINAL" for table, _ in sorted(TABLES.values())
)


def sink_env(settings: Settings, **extra: str) -> dict[str, str]:
    # embedded chDB in this test's data dir, default sink settings; Kafka security settings are kept
    env = {k: v for k, v in os.environ.items() if k != "INSITU_CLICKHOUSE_DSN" and not k.startswith("INSITU_SINK_")}
    env.update(
        INSITU_KAFKA_BOOTSTRAP=settings.kafka_bootstrap or "",
        INSITU_TOPIC_PREFIX=settings.topic_prefix,
        INSITU_TOPIC_PARTITIONS=str(settings.topic_partitions),
        INSITU_DATA_DIR=str(settings.data_dir),
        INSITU_SINK_BATCH_SECONDS="0.2",
        INSITU_LAG_INTERVAL="3600",  # the sink's own stage.lag records would add to what it counts
        **extra,
    )
    return env


def caught_up(settings: Settings, group: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Wait until ``group`` has committed the end offset of every partition of every sink topic."""
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        metadata = consumer.list_topics(timeout=30).topics
        partitions = [
            TopicPartition(settings.topic(topic), p)
            for topic in TABLES
            for p in metadata[settings.topic(topic)].partitions
        ]
        deadline = time.monotonic() + 90
        while True:
            try:
                ends = [consumer.get_watermark_offsets(tp, timeout=10)[1] for tp in partitions]
                committed = [tp.offset for tp in consumer.committed(partitions, timeout=10)]
                behind: list[tuple[Any, ...]] = [
                    (tp.topic, tp.partition, c, e)
                    for tp, c, e in zip(partitions, committed, ends, strict=True)
                    if e > 0 and c != e
                ]
            except KafkaException as exc:  # a fresh broker: the group coordinator may still be loading
                behind = [("coordinator", str(exc))]
            if not behind:
                return
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"sink did not catch up (exit {process.returncode}), behind: {behind}\n{log.read_text()}")
            time.sleep(0.3)
    finally:
        consumer.close()


def run_sink(settings: Settings, log: Path, **extra: str) -> str:
    """One sink run: start it, wait until its group committed everything, SIGTERM; its log."""
    env = sink_env(settings, **extra)
    group = extra.get("INSITU_SINK_GROUP_ID") or SinkSettings(topic_prefix=settings.topic_prefix).group_id
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "streams.sink"], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        caught_up(settings, group, process, log)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    text = log.read_text()
    assert process.returncode == 0, text
    return text


def query(settings: Settings, *sql: str) -> list[list[dict[str, Any]]]:
    out = subprocess.run(
        [sys.executable, "-c", QUERY, *sql], cwd=REPO, env=sink_env(settings), capture_output=True, timeout=120
    )
    assert out.returncode == 0, out.stderr.decode()
    return [json.loads(line) for line in out.stdout.decode().splitlines()]


def stopped_line(log: str) -> str:
    return next(line for line in log.splitlines() if "sink stopped:" in line)


def test_every_topic_lands_once_dead_letters_are_counted_and_offsets_committed(
    kafka_topics: Settings, tmp_path: Path
) -> None:
    settings = kafka_topics
    serde = Serde()
    kafka = producer(settings)

    def send(topic: str, key: bytes | None, value: bytes | None) -> None:
        kafka.produce(settings.topic(topic), key=key, value=value)

    for topic in TABLES:
        record = serde.from_json(topic, SAMPLES[topic])
        send(topic, message_key(topic, record), serde.encode(topic, record))
    joined = serde.from_json("joined.events", SAMPLES["joined.events"])
    send("joined.events", b"credit-a", serde.encode("joined.events", joined))  # a duplicate, as a replay writes
    send("joined.events", b"credit-a", GARBAGE)
    send("routing.weights", b"fraud", None)  # the route was removed
    assert kafka.flush(30) == 0

    first = run_sink(settings, tmp_path / "first.log")
    assert "flushed" in first and "messages=12 " in stopped_line(first), first

    counts, dead, sink_dead, routing, details = query(
        settings,
        COUNTS,
        "SELECT source, reason, count() AS n FROM dead_letters FINAL GROUP BY source, reason ORDER BY source",
        "SELECT original_topic, original_offset, original_value, detail FROM dead_letters FINAL "
        "WHERE source = 'streams.sink'",
        "SELECT route, epoch, instance_id, version, weight, role, reason FROM routing_history FINAL "
        "ORDER BY route, instance_id, version",
        "SELECT (SELECT top_slice FROM profiles FINAL) AS top_slice, "
        "(SELECT label_sources FROM synthetic_batches FINAL) AS label_sources, "
        "(SELECT per_class_support FROM metric_snapshots FINAL) AS support, "
        "(SELECT targets FROM command_audit FINAL) AS targets, "
        "(SELECT parent_version FROM model_versions FINAL) AS parent",
    )
    expected = {table: 1 for table, _ in TABLES.values()} | {"routing_history": 4, "dead_letters": 2}
    assert {row["t"]: row["n"] for row in counts} == expected
    assert dead == [
        {"source": "streams.join", "reason": "undecodable", "n": 1},  # from the deadletter topic
        {"source": "streams.sink", "reason": "undecodable", "n": 1},  # the sink's own, written directly
    ]
    (garbage,) = sink_dead
    assert garbage["original_topic"] == settings.topic("joined.events") and garbage["original_offset"] >= 0
    assert garbage["original_value"] == GARBAGE.decode()
    assert [(r["route"], r["instance_id"], r["version"], r["weight"], r["role"]) for r in routing] == [
        ("credit", "credit-a", 3, 0.6, "stable"),
        ("credit", "credit-a", 4, 0.1, "canary"),
        ("credit", "credit-b", 2, 0.3, "stable"),
        ("fraud", "", 0, 0.0, ""),
    ]
    assert routing[-1]["reason"] == "route removed"
    assert details == [
        {
            "top_slice": SAMPLES["profiles"]["slices"][0]["description"],
            "label_sources": {"rule:credit_policy": 1},
            "support": {"approve": 6},
            "targets": ["instance:credit-a@3"],
            "parent": 3,
        }
    ]

    # Offsets were committed: the same group resumes after them and writes only what is new.
    send("joined.events", b"credit-a", serde.encode("joined.events", joined | {"request_id": "req-2"}))
    assert kafka.flush(30) == 0
    second = run_sink(settings, tmp_path / "second.log")
    assert "messages=1 flushes=1 rows=1 (joined_events=1)" in stopped_line(second), second

    # A full replay (a fresh group reads everything again) collapses into the same rows.
    third = run_sink(settings, tmp_path / "third.log", INSITU_SINK_GROUP_ID=f"replay-{settings.topic_prefix}")
    assert "messages=13 " in stopped_line(third), third
    (counts,) = query(settings, COUNTS)
    assert {row["t"]: row["n"] for row in counts} == expected | {"joined_events": 2}
