"""The streams worker against the real broker: join, dead letters, metrics."""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from sklearn.metrics import accuracy_score, precision_recall_fscore_support

from infra.kafka_clients import producer
from schemas import Serde
from tests.streams.worker_process import WorkerProcess, read_topic, worker_env

pytestmark = pytest.mark.kafka
NOW = datetime.now(UTC)


def inference(request_id: str, instance: str = "credit-a", **overrides: Any) -> dict[str, Any]:
    event = {
        "request_id": request_id,
        "route": "credit",
        "instance_id": instance,
        "model_version": 1,
        "ts": NOW,
        "features": {"age": 30.0},
        "attributes": {},
        "prediction": "approve",
        "probabilities": {},
    }
    event.update(overrides)
    return event


def feedback(request_id: str, label: str = "approve") -> dict[str, Any]:
    return {"request_id": request_id, "label": label, "ts": NOW}


class Sender:
    def __init__(self, settings):
        self.settings = settings
        self.serde = Serde()
        self.producer = producer(settings)

    def avro(self, topic: str, record: dict[str, Any]) -> None:
        self.raw(topic, record["request_id"].encode(), self.serde.encode(topic, record))

    def raw(self, topic: str, key: bytes | None, value: bytes) -> None:
        self.producer.produce(self.settings.topic(topic), key=key, value=value)

    def flush(self) -> None:
        assert self.producer.flush(30) == 0


@pytest.fixture
def worker(kafka_topics, tmp_path):
    routes = tmp_path / "routes.json"
    routes.write_text(json.dumps({"routes": {"credit": {"personal": {"email": "drop", "customer": "hash"}}}}))
    env = worker_env(kafka_topics, INSITU_FEEDBACK_TTL="4s", INSITU_ROUTES_FILE=str(routes), INSITU_PII_SALT="s")
    process = WorkerProcess(env, tmp_path / "worker.log").start()
    yield kafka_topics
    process.stop()


def test_join_dead_letters_and_unlabelled(worker):
    send = Sender(worker)
    send.avro("inference.events", inference("in-order"))
    send.avro("feedback.events", feedback("in-order", "deny"))
    send.avro("feedback.events", feedback("label-first"))
    send.avro("inference.events", inference("label-first"))
    for _ in range(2):
        send.avro("inference.events", inference("dup"))
    send.avro("feedback.events", feedback("dup"))
    send.avro("feedback.events", feedback("dup"))
    send.avro("inference.events", inference("never-labelled"))
    send.avro("feedback.events", feedback("orphan"))
    send.raw("inference.events", b"garbage", b"\x00\x00\x00\x00\x01\xff\xff")
    send.raw("feedback.events", b"bad-json", json.dumps({"request_id": "bad-json", "label": 3, "ts": 0}).encode())
    send.avro("inference.events", inference("nan", features={"age": float("nan")}))
    send.avro("inference.events", inference("elsewhere", route="fraud"))
    pii = inference("pii", attributes={"email": "a@b.c", "customer": "c-17", "region": "north"})
    send.avro("inference.events", pii)
    label_json = {"request_id": "pii", "label": "approve", "ts": "2026-11-24T10:00:00Z"}
    send.raw("feedback.events", b"pii", json.dumps(label_json).encode())  # services may send JSON
    send.flush()

    joined = read_topic(worker, "joined.events", lambda r: len(r) >= 4)
    by_id = Counter(r["request_id"] for r in joined)
    assert by_id == Counter({"in-order": 1, "label-first": 1, "dup": 1, "pii": 1})
    in_order = next(r for r in joined if r["request_id"] == "in-order")
    assert in_order["correct"] is False and in_order["label"] == "deny"
    pii_row = next(r for r in joined if r["request_id"] == "pii")
    assert "email" not in pii_row["attributes"] and pii_row["attributes"]["region"] == "north"
    assert pii_row["attributes"]["customer"] not in ("c-17", "")

    expected = {
        "duplicate": 2,
        "undecodable": 1,
        "schema_violation": 1,
        "non_finite_feature": 1,
        "unknown_route": 1,
        "orphan_feedback": 1,
    }
    dead = read_topic(worker, "deadletter", lambda r: Counter(d["reason"] for d in r) == Counter(expected))
    orphan = next(d for d in dead if d["reason"] == "orphan_feedback")
    assert Serde().decode("feedback.events", orphan["original_value"])["request_id"] == "orphan"  # original bytes
    assert orphan["original_topic"] == worker.topic("feedback.events") and orphan["original_offset"] >= 0
    garbage = next(d for d in dead if d["reason"] == "undecodable")
    assert garbage["original_value"] == b"\x00\x00\x00\x00\x01\xff\xff" and garbage["source"] == "streams.join"

    def covered(records):
        latest = _latest(records, "credit-a", "version")
        return latest is not None and latest["labelled"] == 4 and latest["unlabelled"] == 1

    latest = _latest(read_topic(worker, "metrics.snapshots", covered), "credit-a", "version")
    assert latest["label_coverage"] == pytest.approx(0.8)
    assert latest["accuracy"] == pytest.approx(3 / 4)


def test_snapshot_metrics_equal_scikit_learn(worker):
    rng = random.Random(11)
    send = Sender(worker)
    truth: dict[str, list[tuple[str, str]]] = {"credit-a": [], "credit-b": []}
    for i in range(400):
        instance = rng.choice(sorted(truth))
        label = rng.choice(["approve", "deny", "review"])
        prediction = (
            label if rng.random() < (0.8 if instance == "credit-a" else 0.6) else rng.choice(["approve", "deny"])
        )
        truth[instance].append((label, prediction))
        send.avro("inference.events", inference(f"r{i}", instance, prediction=prediction))
        send.avro("feedback.events", feedback(f"r{i}", label))
    send.flush()

    def complete(records):
        return all(
            (s := _latest(records, instance, "version")) is not None and s["labelled"] == len(pairs)
            for instance, pairs in truth.items()
        )

    records = read_topic(worker, "metrics.snapshots", complete)
    for instance, pairs in truth.items():
        snap = _latest(records, instance, "version")
        y_true, y_pred = zip(*pairs, strict=True)
        labels = sorted(set(y_true) | set(y_pred))
        p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
        mp, mr, mf, _ = precision_recall_fscore_support(y_true, y_pred, labels=labels, average="macro", zero_division=0)
        assert snap["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred), abs=1e-12)
        assert (snap["macro_precision"], snap["macro_recall"], snap["macro_f1"]) == pytest.approx(
            (mp, mr, mf), abs=1e-12
        )
        per_class = {c["label"]: c for c in snap["per_class"]}
        for i, label in enumerate(labels):
            assert per_class[label]["precision"] == pytest.approx(p[i], abs=1e-12)
            assert per_class[label]["recall"] == pytest.approx(r[i], abs=1e-12)
            assert per_class[label]["f1"] == pytest.approx(f[i], abs=1e-12)
            assert per_class[label]["support"] == s[i]

    def caught_up(records):  # every stage has processed its share, and its latest record is not behind
        totals = Counter()
        for r in records:
            totals[r["stage"]] += r["processed"]
        latest = {r["stage"]: r for r in sorted(records, key=lambda r: r["ts"])}
        shares = {"join": 800, "metrics": 400, "profiling": 400, "router": 400}
        return all(totals[s] >= n and latest[s]["messages_behind"] == 0 for s, n in shares.items())

    lag = read_topic(worker, "stage.lag", caught_up)
    totals = Counter()
    for r in lag:
        totals[r["stage"]] += r["processed"]
    assert (totals["join"], totals["metrics"], totals["profiling"]) == (800, 400, 400)  # every message once
    assert all(r["delay_max_ms"] is not None for r in lag if r["processed"] and r["stage"] == "join")


def _latest(records: list[dict[str, Any]], instance: str, window: str) -> dict[str, Any] | None:
    matching = [r for r in records if r.get("instance_id") == instance and r.get("window") == window]
    return max(matching, key=lambda r: r["snapshot_ts"]) if matching else None
