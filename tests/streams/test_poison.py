"""No message can stop the streams worker: hostile input beside valid pairs, against the real broker.

Every hostile input must reach ``deadletter`` with the reason the decoders give it, every valid
pair sent alongside must be joined, counted and profiled, and the worker must still be running
with no crash in its log.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.config import Settings
from infra.kafka_clients import admin
from infra.topics import create_topics
from tests.hostile import SERDE, Input, Sender, classify, command, draw, feedback, inference, nested
from tests.streams.worker_process import WorkerProcess, read_topic, worker_env

pytestmark = pytest.mark.kafka
PAIRS = 600  # per test, over two instances: enough for each instance's first profile build
MEGABYTE = 1_000_000


@pytest.fixture(scope="module")
def worker(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, Path]]:
    """One streams worker for the module (each test uses request ids of its own)."""
    data = tmp_path_factory.mktemp("poison")
    settings = Settings(data_dir=data, kafka_bootstrap=kafka_bootstrap, topic_prefix="poison.", topic_partitions=2)
    create_topics(admin(settings), settings)
    log = data / "worker.log"
    process = WorkerProcess(worker_env(settings), log).start()
    yield settings, log
    alive = process.process is not None and process.process.poll() is None
    process.stop()
    assert alive, f"the worker exited:\n{process.tail()}"


def explicit_cases() -> list[Input]:
    """The reported poison messages, each string field at 1 MB, nesting on every input topic, bad keys."""
    cases = []
    for topic, record in (("inference.events", inference("p-inf")), ("feedback.events", feedback("p-fb"))):
        for field in [f for f, v in record.items() if isinstance(v, str)]:
            big = record | {field: "x" * MEGABYTE}
            cases.append(Input(topic, record["request_id"].encode(), json.dumps(big).encode(), f"1MB {field}"))
        for depth in (1_000, 10_000, 100_000):
            value = json.dumps(record)[:-1] + f', "extra": {nested(depth)}}}'
            cases.append(Input(topic, record["request_id"].encode(), value.encode(), f"nested {depth}"))
            value = json.dumps(record)[:-1] + f', "extra": {nested(depth, as_object=True)}}}'
            cases.append(Input(topic, record["request_id"].encode(), value.encode(), f"nested object {depth}"))
        cases.append(Input(topic, None, json.dumps(record).encode(), "null key"))
        cases.append(Input(topic, b"another-id", json.dumps(record).encode(), "key mismatch"))
    cases.append(Input("commands", b"fuzz", json.dumps(command("c1", issuer="i" * MEGABYTE)).encode(), "1MB issuer"))
    cases.append(Input("commands", b"fuzz", json.dumps(command("c2", reason="r" * 2_000)).encode(), "long reason"))
    for depth in (1_000, 100_000):
        value = json.dumps(command("c3"))[:-1] + f', "extra": {nested(depth, as_object=True)}}}'
        cases.append(Input("commands", b"fuzz", value.encode(), f"nested command {depth}"))
    features = {f"feature_{i:05d}": 0.5 for i in range(5_000)}
    many = inference("p-many") | {"features": features}
    cases.append(Input("inference.events", b"p-many", json.dumps(many).encode(), "5,000 features"))
    return cases


def swollen() -> Input:
    """A valid Avro inference of 200 kB whose join state is 1.2 MB as JSON (control characters take 6 bytes)."""
    attributes = {f"a{i}": "\x01" * 1_000 for i in range(200)}
    record = inference("p-swollen") | {"attributes": attributes}
    return Input("inference.events", b"p-swollen", SERDE.encode_json("inference.events", record), "swollen state")


def test_reported_poison_messages_are_dead_lettered_and_valid_pairs_still_flow(worker: tuple[Settings, Path]) -> None:
    settings, log = worker
    cases = [(case, classify(case)) for case in explicit_cases()]
    assert all(reason is not None for _, reason in cases)
    check(settings, log, [*cases, (swollen(), "too_large")], prefix="e")


def test_generated_hostile_input_interleaved_with_valid_pairs(worker: tuple[Settings, Path]) -> None:
    settings, log = worker
    cases = [(item, classify(item)) for item in draw(150, seed_value=16)]
    check(settings, log, [(item, reason) for item, reason in cases if reason is not None], prefix="g")


def test_the_largest_valid_input_joins(worker: tuple[Settings, Path]) -> None:
    settings, _ = worker
    features = {f"feature_{i:04d}_{'n' * 30}": i / 7 for i in range(4_000)}
    record = inference("p-largest") | {"features": features}
    value = json.dumps(record).encode()
    assert (
        200_000 < len(value) <= SERDE.limits.message_bytes
        and classify(Input("inference.events", b"p-largest", value, "")) is None
    )
    send = Sender(settings)
    send.send(Input("inference.events", b"p-largest", value, "largest"))
    send.send(Input("feedback.events", b"p-largest", json.dumps(feedback("p-largest")).encode(), "ok"))
    send.flush()
    joined = read_topic(settings, "joined.events", lambda rs: "p-largest" in {r.get("request_id") for r in rs})
    assert len(next(r for r in joined if r.get("request_id") == "p-largest")["features"]) == 4_000


def check(settings: Settings, log: Path, hostile: list[tuple[Input, str | None]], prefix: str) -> None:
    """Send ``hostile`` inputs (each with the dead-letter reason it must get) interleaved with valid pairs,
    then account for every message."""
    send = Sender(settings)
    instances = (f"{prefix}-a", f"{prefix}-b")
    valid_ids = [f"{prefix}-ok-{i}" for i in range(PAIRS)]
    every = max(1, PAIRS // max(1, len(hostile)))
    queue, sent = list(hostile), []
    for i, request_id in enumerate(valid_ids):
        send.pair(request_id, instances[i % 2])
        if i % every == 0 and queue:
            item, reason = queue.pop()
            sent.append((send.send(item), reason))
    sent += [(send.send(item), reason) for item, reason in queue]
    send.flush()
    expected = {send.positions[index]: reason for index, reason in sent}
    hostile_positions = set(expected)

    def all_dead(records: list[dict[str, Any]]) -> bool:
        seen = {(d["original_topic"], d["original_partition"], d["original_offset"]) for d in records}
        return hostile_positions <= seen

    dead = read_topic(settings, "deadletter", all_dead, timeout=240)
    reasons = {}
    for letter in dead:
        position = (letter["original_topic"], letter["original_partition"], letter["original_offset"])
        if position in hostile_positions:
            reasons[position] = letter["reason"]
            kept = len(letter["original_value"] or b"")
            assert kept <= 65_536 and letter["original_value_bytes"] >= kept
    wrong = {p: (reasons[p], want) for p, want in expected.items() if reasons[p] != want}
    assert not wrong, f"dead-letter reasons differ (got, expected): {wrong}"

    def joined_all(records: list[dict[str, Any]]) -> bool:
        return set(valid_ids) <= {r.get("request_id") for r in records}

    joined = read_topic(settings, "joined.events", joined_all, timeout=240)
    ours = Counter(r["request_id"] for r in joined if r.get("request_id", "").startswith(f"{prefix}-"))
    assert set(ours) == set(valid_ids) and max(ours.values()) == 1

    def counted(records: list[dict[str, Any]]) -> bool:
        latest = {}
        for r in records:
            if r.get("window") == "version" and r.get("instance_id") in instances:
                latest[r["instance_id"]] = max(latest.get(r["instance_id"], 0), r["labelled"])
        return all(latest.get(i) == PAIRS // 2 for i in instances)

    read_topic(settings, "metrics.snapshots", counted, timeout=120)
    read_topic(settings, "profiles", lambda rs: set(instances) <= {r.get("instance_id") for r in rs}, timeout=180)
    text = log.read_text(errors="replace")
    assert "crash" not in text.lower(), text[-3000:]
