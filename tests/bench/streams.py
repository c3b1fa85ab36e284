"""Streams worker benchmark: joined events/s, feedback-to-snapshot latency, and a plain-loop baseline.

Run alone with ``python -m tests.bench.streams`` (needs INSITU_KAFKA_BOOTSTRAP or starts a broker).
"""

from __future__ import annotations

import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, KafkaError, TopicPartition

from infra.config import Settings
from infra.kafka_clients import admin, producer
from infra.topics import create_topics
from schemas import Serde
from streams.join.logic import on_feedback, on_inference
from tests.bench import kafka
from tests.streams.worker_process import WorkerProcess, worker_env

EVENTS = 20_000


def _inference(i: int, now: datetime) -> dict[str, Any]:
    return {
        "request_id": f"b{i}",
        "route": "bench",
        "instance_id": f"inst-{i % 3}",
        "model_version": 1,
        "ts": now,
        "features": {"x": float(i % 100), "y": float(i % 7)},
        "attributes": {"channel": "web"},
        "prediction": "a" if i % 3 else "b",
        "probabilities": {},
    }


def _produce_pairs(settings: Settings, start: int, count: int) -> None:
    serde = Serde()
    out = producer(settings)
    now = datetime.now(UTC)
    for i in range(start, start + count):
        for topic, record in (
            ("inference.events", _inference(i, now)),
            ("feedback.events", {"request_id": f"b{i}", "label": "a", "ts": now}),
        ):
            while True:
                try:
                    out.produce(
                        settings.topic(topic), key=record["request_id"].encode(), value=serde.encode(topic, record)
                    )
                    break
                except BufferError:
                    out.poll(0.05)
        out.poll(0)
    out.flush(60)


def _count_until(settings: Settings, topic: str, target: int, timeout: float) -> float:
    """Seconds until ``target`` committed records are on ``topic``."""
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": uuid.uuid4().hex,
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
        }
    )
    consumer.subscribe([settings.topic(topic)])
    seen, began = 0, time.perf_counter()
    while seen < target and time.perf_counter() - began < timeout:
        seen += sum(1 for m in consumer.consume(1000, timeout=0.5) if m.error() is None)
    consumer.close()
    return time.perf_counter() - began


def bench_worker(settings: Settings, tmp: Path) -> tuple[list[tuple[str, str]], float]:
    process = WorkerProcess(worker_env(settings, INSITU_FEEDBACK_TTL="1h"), tmp / "worker.log").start()
    try:
        began = time.perf_counter()
        _produce_pairs(settings, 0, EVENTS)  # as fast as the producer goes; the worker joins meanwhile
        _count_until(settings, "joined.events", EVENTS, timeout=600)
        rate = EVENTS / (time.perf_counter() - began)
        _wait_for_metrics(settings, EVENTS)  # measure latency on an idle worker, not behind a backlog
        latencies = _snapshot_latency(settings)
    finally:
        process.stop()
    return [
        (f"streams worker, joined events/s ({EVENTS:,} pairs, one worker)", f"{rate:,.0f}"),
        ("feedback produced -> snapshot reflects it, p50", f"{statistics.median(latencies):.2f} s"),
        ("feedback produced -> snapshot reflects it, p99", f"{_p99(latencies):.2f} s"),
    ], rate


def _snapshot_latency(settings: Settings, count: int = 100) -> list[float]:
    """Pairs for a probe instance, about 10/s; when a snapshot counts L of them, the first L are reflected."""
    serde = Serde()
    out = producer(settings, **{"linger.ms": 0})
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": uuid.uuid4().hex})
    name = settings.topic("metrics.snapshots")
    partitions = consumer.list_topics(name, timeout=10).topics[name].partitions
    ends = [consumer.get_watermark_offsets(TopicPartition(name, p), timeout=10)[1] for p in partitions]
    consumer.assign([TopicPartition(name, p, end) for p, end in zip(partitions, ends, strict=True)])
    now = datetime.now(UTC)
    sent: list[float] = []
    latencies: list[float] = []

    def drain(wait: float) -> None:
        for message in consumer.consume(100, timeout=wait):
            if message.error() is not None:
                continue
            snap = serde.decode("metrics.snapshots", message.value())
            if snap["instance_id"] == "latency-probe" and snap["window"] == "version":
                arrived = time.perf_counter()
                while len(latencies) < min(snap["labelled"], len(sent)):
                    latencies.append(arrived - sent[len(latencies)])

    for k in range(count):
        record = dict(_inference(k, now), request_id=f"probe-{k}", instance_id="latency-probe")
        label = {"request_id": record["request_id"], "label": "a", "ts": now}
        out.produce(
            settings.topic("inference.events"),
            key=record["request_id"].encode(),
            value=serde.encode("inference.events", record),
        )
        out.produce(
            settings.topic("feedback.events"),
            key=record["request_id"].encode(),
            value=serde.encode("feedback.events", label),
        )
        out.flush(10)
        sent.append(time.perf_counter())
        drain(0.1)
    deadline = time.perf_counter() + 30
    while len(latencies) < count and time.perf_counter() < deadline:
        drain(0.5)
    consumer.close()
    return latencies


def _wait_for_metrics(settings: Settings, total: int, timeout: float = 600) -> None:
    serde = Serde()
    consumer = Consumer(
        {"bootstrap.servers": settings.kafka_bootstrap, "group.id": uuid.uuid4().hex, "auto.offset.reset": "latest"}
    )
    consumer.subscribe([settings.topic("metrics.snapshots")])
    latest: dict[str, int] = {}
    deadline = time.perf_counter() + timeout
    while sum(latest.values()) < total and time.perf_counter() < deadline:
        for message in consumer.consume(500, timeout=0.5):
            if message.error() is None:
                snap = serde.decode("metrics.snapshots", message.value())
                if snap["window"] == "version":
                    latest[snap["instance_id"]] = snap["labelled"]
    consumer.close()


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


def bench_plain_loop(settings: Settings) -> float:
    """The same per-event work (decode, join in a dict, encode, produce) in a plain confluent-kafka loop."""
    serde = Serde()
    out = producer(settings)
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": uuid.uuid4().hex,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": True,
        }
    )
    consumer.subscribe([settings.topic("inference.events"), settings.topic("feedback.events")])
    state: dict[str, Any] = {}
    joined, began = 0, time.perf_counter()
    inference_topic = settings.topic("inference.events")
    while joined < EVENTS and time.perf_counter() - began < 300:
        for message in consumer.consume(1000, timeout=0.5):
            if message.error() is not None:
                if message.error().code() != KafkaError._PARTITION_EOF:
                    raise RuntimeError(message.error().str())
                continue
            is_inference = message.topic() == inference_topic
            record = serde.decode("inference.events" if is_inference else "feedback.events", message.value())
            key = record["request_id"]
            handler = on_inference if is_inference else on_feedback
            outcome = handler(
                state.get(key),
                record,
                now_ms=0,
                ttl_ms=3_600_000,
                partition=message.partition(),
                offset=message.offset(),
            )
            state[key] = outcome.state
            if outcome.joined is not None:
                out.produce(
                    settings.topic("joined.events"),
                    key=outcome.joined["instance_id"].encode(),
                    value=serde.encode("joined.events", outcome.joined),
                )
                out.poll(0)
                joined += 1
    out.flush(60)
    consumer.close()
    return joined / (time.perf_counter() - began)


def run(settings: Settings | None = None) -> list[tuple[str, str]]:
    with tempfile.TemporaryDirectory() as tmp, kafka.bootstrap(Path(tmp), settings) as servers:
        base = (settings or Settings()).model_copy(update={"kafka_bootstrap": servers})
        worker_settings = base.model_copy(update={"topic_prefix": f"bs{uuid.uuid4().hex[:6]}.", "data_dir": Path(tmp)})
        create_topics(admin(worker_settings), worker_settings)
        rows, worker_rate = bench_worker(worker_settings, Path(tmp))
        plain_settings = base.model_copy(update={"topic_prefix": f"bp{uuid.uuid4().hex[:6]}."})
        create_topics(admin(plain_settings), plain_settings)
        _produce_pairs(plain_settings, 0, EVENTS)
        plain_rate = bench_plain_loop(plain_settings)
    rows.append(("plain confluent-kafka loop, same per-event work, joined events/s", f"{plain_rate:,.0f}"))
    rows.append(("ratio streams worker / plain loop", f"{worker_rate / plain_rate:.2f}"))
    return rows


if __name__ == "__main__":
    for name, value in run():
        print(f"| {name} | {value} |", flush=True)
