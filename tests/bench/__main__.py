"""`make bench`: serde and broker round-trip throughput on this machine.

Prints one table; copy it into the README's benchmark section. Starts its own
embedded broker unless INSITU_KAFKA_BOOTSTRAP is set.
"""

from __future__ import annotations

import os
import platform
import tempfile
import time
import uuid
from pathlib import Path

from confluent_kafka import Consumer

from infra.broker import EmbeddedBroker
from infra.config import Settings
from infra.kafka_clients import admin, producer
from infra.topics import create_topics, message_key
from schemas import Serde
from tests.conftest import free_port_pair
from tests.samples import SAMPLES


def bench_serde(events: int = 50_000) -> list[tuple[str, str]]:
    serde = Serde()
    record = serde.from_json("inference.events", SAMPLES["inference.events"])
    started = time.perf_counter()
    blobs = [serde.encode("inference.events", record) for _ in range(events)]
    encode = events / (time.perf_counter() - started)
    started = time.perf_counter()
    for blob in blobs:
        serde.decode("inference.events", blob)
    decode = events / (time.perf_counter() - started)
    started = time.perf_counter()
    for _ in range(events // 5):
        serde.from_json("inference.events", SAMPLES["inference.events"])
    validate = (events // 5) / (time.perf_counter() - started)
    return [
        ("Avro encode (inference event)", f"{encode:,.0f} events/s"),
        ("Avro decode (inference event)", f"{decode:,.0f} events/s"),
        ("JSON validation (inference event)", f"{validate:,.0f} events/s"),
    ]


def bench_broker(settings: Settings, events: int = 100_000) -> list[tuple[str, str]]:
    create_topics(admin(settings), settings)
    serde = Serde()
    record = serde.from_json("inference.events", SAMPLES["inference.events"])
    kafka = producer(settings)
    topic = settings.topic("inference.events")
    started = time.perf_counter()
    for i in range(events):
        record["request_id"] = f"b-{i}"
        while True:
            try:
                kafka.produce(
                    topic, key=message_key("inference.events", record), value=serde.encode("inference.events", record)
                )
                break
            except BufferError:
                kafka.poll(0.1)
        kafka.poll(0)
    kafka.flush(60)
    produced = events / (time.perf_counter() - started)
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": f"bench-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    seen = 0
    started = time.perf_counter()
    while seen < events:
        for message in consumer.consume(1000, timeout=1.0):
            if message.error() is None:
                serde.decode("inference.events", message.value())
                seen += 1
    consumed = events / (time.perf_counter() - started)
    consumer.close()
    return [
        ("produce, encode + idempotent acks=all", f"{produced:,.0f} events/s"),
        ("consume + decode", f"{consumed:,.0f} events/s"),
    ]


SECTIONS = (
    ("streams", "tests.bench.streams"),
    ("bad input", "tests.bench.fuzz"),
    ("analytics sink", "tests.bench.sink"),
    ("weakness profiles", "tests.bench.profiling"),
    ("workers", "tests.bench.workers"),
    ("monitoring vs Evidently", "tests.bench.evidently_compare"),
    ("alternatives", "tests.bench.alternatives"),
    ("time to heal", "tests.bench.heal"),
)


def _table(title: str, rows: list[tuple[str, str]]) -> str:
    width = max(len(name) for name, _ in rows)
    lines = [f"\n{title}\n", f"| {'what':<{width}} | result |", f"|{'-' * (width + 2)}|--------|"]
    lines += [f"| {name:<{width}} | {value} |" for name, value in rows]
    return "\n".join(lines)


def main() -> None:
    import importlib
    import inspect

    print(f"insitu benchmarks — {platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} cores")
    print(_table("serde", bench_serde()), flush=True)
    external = os.environ.get("INSITU_KAFKA_BOOTSTRAP")
    with tempfile.TemporaryDirectory() as tmp:
        broker = None
        if external:
            bootstrap = external
        else:
            broker = EmbeddedBroker(Settings(data_dir=Path(tmp), kafka_port=free_port_pair()))
            bootstrap = broker.start()
        try:
            settings = Settings(
                data_dir=Path(tmp), kafka_bootstrap=bootstrap, topic_prefix=f"bench{uuid.uuid4().hex[:6]}."
            )
            print(_table("broker round trip", bench_broker(settings)), flush=True)
            for title, module_name in SECTIONS:
                try:
                    module = importlib.import_module(module_name)
                except ModuleNotFoundError:
                    continue
                wants_settings = "settings" in inspect.signature(module.run).parameters
                rows = module.run(settings) if wants_settings else module.run()
                print(_table(title, rows), flush=True)
        finally:
            if broker is not None:
                broker.stop()


if __name__ == "__main__":
    main()
