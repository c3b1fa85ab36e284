"""Streams worker benchmark: each stage's rate and lag, the sustained rate, feedback-to-snapshot latency, a plain loop.

``python -m tests.bench.streams`` runs this section alone (``--help`` for its knobs); it starts
a broker unless INSITU_KAFKA_BOOTSTRAP is set. Every figure comes from the stages' own
``stage.lag`` records (``streams.lag``), read back from the topic.

- Backlog: ``--pairs`` inference/feedback pairs produced as fast as the producer goes; for each
  stage, the seconds until it has processed its share of them and is no longer behind.
- Sustained rate: pairs at a fixed rate for ``--seconds``, one fresh worker per rate in
  ``--rates``; per stage, the 99th percentile of its delay (a message's Kafka timestamp to the
  stage having processed it, the longest of each ``INSITU_LAG_INTERVAL``); the highest rate at
  which every stage stays under 2 s.
- Feedback produced -> a snapshot counts it, p50 / p99, with traffic at half that rate beside it.
- Time to name a weakness: at ``--weak-rate`` pairs/s, one instance starts erring on ``x >= 80``
  half-way through; seconds until a ``slice_appeared`` change names a slice on ``x`` for it.
- Memory: at the sustained rate for ``--memory-seconds`` with no label ever arriving for a tenth of
  the requests, the resident memory of the worker and of its profile-build process at the start
  and the end, and the worker's own growth extrapolated linearly to the one-hour label TTL (until
  then the join holds every unlabelled request).
- The plain confluent-kafka loop doing the worker's work per pair (``bench_plain_loop``).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, KafkaError, TopicPartition
from confluent_kafka.admin import NewTopic

from infra.config import Settings
from infra.kafka_clients import admin, producer
from infra.topic_reader import TopicReader
from infra.topics import create_topics
from schemas import Serde
from streams.config import StreamSettings
from streams.drift import InstanceDrift
from streams.join.logic import on_feedback, on_inference, to_millis
from streams.metrics.aggregate import VersionAggregate, bucket_of
from streams.profiling import ProfilerConfig, RouteProfiler
from streams.router import RouterEngine, RouterPolicy, envelope
from tests.bench import kafka
from tests.streams.worker_process import WorkerProcess, worker_env

PAIRS = 20_000
RATES = (50, 100, 200)
SECONDS = 60.0
WARM_UP_S = 10.0
LAG_AIM_S = 2.0
BACKLOG_TIMEOUT_S = 300
READY_TIMEOUT_S = 120
WEAK_RATE = 1_000.0
MEMORY_SECONDS = 600.0
UNLABELLED_EVERY = 10
BY_ROUTE = "bench-joined-by-route"  # the plain loop's second copy of each joined event
TTL_S = 3600  # the label TTL of the workers here (INSITU_FEEDBACK_TTL)
SHARE = {"join": 2, "metrics": 1, "profiling": 1, "router": 1}
"""Messages each stage processes per pair at least: its input halves, or a joined event."""


def _inference(i: int, now: datetime, instance: str | None = None) -> dict[str, Any]:
    return {
        "request_id": f"b{i}",
        "route": "bench",
        "instance_id": instance or f"inst-{i % 3}",
        "model_version": 1,
        "ts": now,
        "features": {"x": float(i % 100), "y": float(i % 7)},
        "attributes": {"channel": "web"},
        "prediction": "a" if i % 3 else "b",
        "probabilities": {},
    }


Predict = Callable[[int, dict[str, Any]], str]


def _produce_pairs(
    settings: Settings,
    start: int,
    count: int,
    rate: float | None = None,
    stop: threading.Event | None = None,
    predict: Predict | None = None,
    unlabelled_every: int | None = None,
) -> None:
    """``count`` pairs from request ``b{start}`` on, as fast as the producer goes or at ``rate`` pairs/s.

    ``predict(n, inference)``: the prediction of the ``n``-th pair (the label is always ``a``).
    ``unlabelled_every``: every so many requests get no feedback at all.
    """
    serde = Serde()
    out = producer(settings)
    began = time.perf_counter()
    for n, i in enumerate(range(start, start + count)):
        if stop is not None and stop.is_set():
            break
        if rate is not None:
            while n >= rate * (time.perf_counter() - began):
                out.poll(0.002)
        now = datetime.now(UTC)
        inference = _inference(i, now)
        if predict is not None:
            inference["prediction"] = predict(n, inference)
        label = {"request_id": f"b{i}", "label": "a", "ts": now}
        halves = [("inference.events", inference), ("feedback.events", label)]
        if unlabelled_every is not None and i % unlabelled_every == 0:
            halves.pop()
        for topic, record in halves:
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


class LagWatch:
    """The ``stage.lag`` records of a run, read as they come."""

    def __init__(self, settings: Settings) -> None:
        self.reader = TopicReader(settings, "stage.lag", name="bench-lag").open()
        self.records: list[dict[str, Any]] = []

    def poll(self, timeout: float = 0.5) -> None:
        self.records += [m.record for m in self.reader.poll(timeout) if m.record is not None]

    def wait_ready(self, timeout: float) -> None:
        """Until every stage has reported once: the worker has started and owns its partitions."""
        deadline = time.monotonic() + timeout
        while not set(SHARE) <= {r["stage"] for r in self.records}:
            if time.monotonic() > deadline:
                msg = f"the streams worker reported no lag for {set(SHARE)} within {timeout:g} s"
                raise TimeoutError(msg)
            self.poll(0.5)

    def processed(self) -> Counter[str]:
        totals: Counter[str] = Counter()
        for r in self.records:
            totals[r["stage"]] += r["processed"]
        return totals

    def caught_up(self, stage: str, pairs: int) -> bool:
        """``stage`` has processed its share of ``pairs`` and its latest record is not behind."""
        mine = [r for r in self.records if r["stage"] == stage]
        return bool(mine) and self.processed()[stage] >= SHARE[stage] * pairs and mine[-1]["messages_behind"] == 0

    def delays_s(self, stage: str, since: datetime, until: datetime) -> list[float]:
        return [
            r["delay_max_ms"] / 1000
            for r in self.records
            if r["stage"] == stage and r["delay_max_ms"] is not None and since <= r["ts"] <= until
        ]

    def behind(self, stage: str) -> int:
        return max((r["messages_behind"] for r in self.records if r["stage"] == stage), default=0)

    def close(self) -> None:
        self.reader.close()


@contextmanager
def _worker(base: Settings, tmp: Path, tag: str) -> Iterator[tuple[Settings, LagWatch, WorkerProcess]]:
    """A fresh topic prefix, its topics, a streams worker on them and a watch on its lag."""
    settings = base.model_copy(update={"topic_prefix": f"{tag}{uuid.uuid4().hex[:6]}.", "data_dir": tmp / tag})
    create_topics(admin(settings), settings)
    process = WorkerProcess(worker_env(settings, INSITU_FEEDBACK_TTL=str(TTL_S)), tmp / f"{tag}.log").start()
    watch = LagWatch(settings)
    try:
        watch.wait_ready(READY_TIMEOUT_S)
        yield settings, watch, process
    finally:
        watch.close()
        process.stop()


def _wait_caught_up(watch: LagWatch, pairs: int, began: float, timeout: float) -> dict[str, float]:
    """Seconds from ``began`` until each stage caught up with ``pairs`` (missing: not within ``timeout``)."""
    done: dict[str, float] = {}
    while len(done) < len(SHARE) and time.perf_counter() - began < timeout:
        watch.poll(0.5)
        for stage in SHARE:
            if stage not in done and watch.caught_up(stage, pairs):
                done[stage] = time.perf_counter() - began
    return done


def bench_backlog(base: Settings, tmp: Path, pairs: int) -> list[tuple[str, str]]:
    with _worker(base, tmp, "backlog") as (settings, watch, _):
        began = time.perf_counter()
        _produce_pairs(settings, 0, pairs)
        produced = time.perf_counter() - began
        done = _wait_caught_up(watch, pairs, began, timeout=BACKLOG_TIMEOUT_S)
    rows = [(f"{pairs:,} pairs produced in", f"{produced:.1f} s")]
    for stage in SHARE:
        seconds = done.get(stage)
        value = f"{seconds:.1f} s ({pairs / seconds:,.0f} pairs/s)" if seconds else f"not within {BACKLOG_TIMEOUT_S} s"
        rows.append((f"  {stage} caught up after (most messages behind: {watch.behind(stage):,})", value))
    return rows


def bench_sustained(base: Settings, tmp: Path, rate: float, seconds: float) -> dict[str, float | None]:
    """Per stage, the p99 of its delay at ``rate`` pairs/s after a warm-up (None: it never caught up)."""
    with _worker(base, tmp, f"rate{int(rate)}") as (settings, watch, _):
        start = datetime.now(UTC)
        began = time.perf_counter()
        pairs = int(rate * seconds)
        _produce_pairs(settings, 0, pairs, rate=rate)
        end = datetime.now(UTC)
        done = _wait_caught_up(watch, pairs, began, timeout=seconds + 120)
        since = datetime.fromtimestamp(start.timestamp() + WARM_UP_S, UTC)
        out: dict[str, float | None] = {}
        for stage in SHARE:
            delays = watch.delays_s(stage, since, end)
            out[stage] = _p99(delays) if stage in done and delays else None
        return out


def bench_latency(base: Settings, tmp: Path, background: float) -> list[float]:
    with _worker(base, tmp, "latency") as (settings, _, _):
        stop = threading.Event()
        traffic = threading.Thread(target=_produce_pairs, args=(settings, 10**7, 10**7, background, stop), daemon=True)
        traffic.start()
        try:
            time.sleep(WARM_UP_S)
            return _snapshot_latency(settings)
        finally:
            stop.set()
            traffic.join(30)


def bench_weakness(base: Settings, tmp: Path, rate: float, seconds: float) -> float | None:
    """Seconds from ``inst-0`` turning wrong on ``x >= 80`` until its profile names a slice on ``x``."""
    switch = int(rate * seconds / 2)

    def predict(n: int, inference: dict[str, Any]) -> str:
        weak = n >= switch and inference["instance_id"] == "inst-0" and inference["features"]["x"] >= 80
        return "b" if weak else "a"

    with _worker(base, tmp, "weak") as (settings, _, _):
        reader = TopicReader(settings, "profile.changes", name="bench-changes").open()
        began = time.perf_counter()
        traffic = threading.Thread(
            target=_produce_pairs, args=(settings, 0, int(rate * seconds), rate, None, predict), daemon=True
        )
        traffic.start()
        switched = began + seconds / 2
        named: float | None = None
        while named is None and time.perf_counter() < began + seconds + 60:
            for message in reader.poll(0.5):
                if _names_x(message.record):
                    named = time.perf_counter() - switched
        reader.close()
        traffic.join(seconds + 60)
        return named


def bench_memory(base: Settings, tmp: Path, rate: float, seconds: float) -> list[tuple[str, str]]:
    """Resident memory at ``rate`` pairs/s for ``seconds``, a tenth of the requests never labelled."""
    with _worker(base, tmp, "memory") as (settings, _, process):
        assert process.process is not None
        before = _resident_mib(process.process.pid)
        began = time.perf_counter()
        _produce_pairs(settings, 0, int(rate * seconds), rate=rate, unlabelled_every=UNLABELLED_EVERY)
        elapsed = time.perf_counter() - began
        after = _resident_mib(process.process.pid)
    # The profile-build process starts with the first build (a step, not growth): only the worker's own
    # growth is extrapolated.
    at_ttl = before[0] + (after[0] - before[0]) * TTL_S / elapsed + after[1]
    label = f"resident memory at {rate:,.0f} pairs/s, 1 in {UNLABELLED_EVERY} never labelled"
    return [
        (f"{label}: at start / after {elapsed / 60:.0f} min", f"{sum(before):,.0f} / {sum(after):,.0f} MiB"),
        (f"{label}: of which the worker / its child processes, at the end", f"{after[0]:,.0f} / {after[1]:,.0f} MiB"),
        (f"{label}: extrapolated to the {TTL_S / 3600:.0f} h label TTL", f"{at_ttl:,.0f} MiB"),
    ]


def _resident_mib(pid: int) -> tuple[float, float]:
    """Resident memory of a process, and of its children (the profile-build process), from ``/proc``."""
    own_kib = children_kib = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except FileNotFoundError:
            continue
        rss = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
        if current == pid:
            own_kib = rss
        else:
            children_kib += rss
        pending += [int(c) for c in children]
    return own_kib / 1024, children_kib / 1024


def _names_x(change: dict[str, Any] | None) -> bool:
    """A ``slice_appeared`` change of ``inst-0`` whose slice has a condition on ``x``."""
    if not change or change["kind"] != "slice_appeared" or change["instance_id"] != "inst-0":
        return False
    return any(c["feature"] == "x" for c in (change["slice"] or {}).get("predicate", []))


def _snapshot_latency(settings: Settings, count: int = 100) -> list[float]:
    """Pairs for a probe instance, about 10/s; when a snapshot counts L of them, the first L are reflected."""
    serde = Serde()
    out = producer(settings, **{"linger.ms": 0})
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": uuid.uuid4().hex})
    name = settings.topic("metrics.snapshots")
    partitions = consumer.list_topics(name, timeout=10).topics[name].partitions
    ends = [consumer.get_watermark_offsets(TopicPartition(name, p), timeout=10)[1] for p in partitions]
    consumer.assign([TopicPartition(name, p, end) for p, end in zip(partitions, ends, strict=True)])
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
        now = datetime.now(UTC)
        record = dict(_inference(k, now, "latency-probe"), request_id=f"probe-{k}")
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
    deadline = time.perf_counter() + 60
    while len(latencies) < count and time.perf_counter() < deadline:
        drain(0.5)
    consumer.close()
    return latencies


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


def bench_plain_loop(settings: Settings, pairs: int) -> float:
    """The worker's work per pair in a plain confluent-kafka loop, pairs joined per second.

    Decode both halves, join them in a dict, encode the joined event and produce it twice (by
    instance and by route, as the join does), then count it (metrics), update its drift
    detectors and its profile window, and let the router engine take it.
    """
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
    aggregates: dict[tuple[str, int], VersionAggregate] = {}
    detectors: dict[tuple[str, int], InstanceDrift] = {}
    profilers: dict[str, RouteProfiler] = {}
    engine = RouterEngine({}, {}, RouterPolicy.from_settings(StreamSettings()))
    joined, began = 0, time.perf_counter()
    inference_topic, joined_topic = settings.topic("inference.events"), settings.topic("joined.events")
    by_route_topic = f"{settings.topic_prefix}{BY_ROUTE}"
    while joined < pairs and time.perf_counter() - began < 300:
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
            event = outcome.joined
            if event is None:
                continue
            value = serde.encode("joined.events", event)
            out.produce(joined_topic, key=event["instance_id"].encode(), value=value)
            out.produce(by_route_topic, key=event["route"].encode(), value=value)
            out.poll(0)
            instance = (event["instance_id"], event["model_version"])
            ts_ms = to_millis(event["inference_ts"])
            aggregate = aggregates.setdefault(instance, VersionAggregate(route=event["route"], first_ts=ts_ms))
            aggregate.add(bucket_of(ts_ms), event["label"], event["prediction"])
            detectors.setdefault(instance, InstanceDrift()).update(event["correct"], event["features"])
            profilers.setdefault(event["route"], RouteProfiler(event["route"], ProfilerConfig())).add(event)
            route, body = envelope.joined(event, source=(message.partition(), message.offset()))
            engine.on_joined(route, message.partition(), body, int(time.time() * 1000))
            joined += 1
    out.flush(60)
    consumer.close()
    return joined / (time.perf_counter() - began)


def run(
    settings: Settings | None = None,
    pairs: int = PAIRS,
    rates: tuple[float, ...] = RATES,
    seconds: float = SECONDS,
    weak_rate: float = WEAK_RATE,
    memory_seconds: float = MEMORY_SECONDS,
) -> list[tuple[str, str]]:
    with tempfile.TemporaryDirectory() as tmp, kafka.bootstrap(Path(tmp), settings) as servers:
        base = (settings or Settings()).model_copy(update={"kafka_bootstrap": servers})
        rows = bench_backlog(base, Path(tmp), pairs)
        sustained = 0.0
        for rate in rates:
            p99 = bench_sustained(base, Path(tmp), rate, seconds)
            cells = ", ".join(f"{s} {v:.2f} s" if v is not None else f"{s} fell behind" for s, v in p99.items())
            rows.append((f"{rate:,.0f} pairs/s for {seconds:.0f} s, p99 delay per stage", cells))
            if all(v is not None and v < LAG_AIM_S for v in p99.values()):
                sustained = max(sustained, rate)
        rows.append(
            (
                f"sustained rate (of {', '.join(f'{r:,.0f}' for r in rates)}): every stage p99 < 2 s",
                f"{sustained:,.0f} pairs/s",
            )
        )
        background = sustained / 2
        latencies = bench_latency(base, Path(tmp), background)
        if latencies:
            rows.append(
                (f"feedback -> snapshot at {background:,.0f} pairs/s, p50", f"{statistics.median(latencies):.2f} s")
            )
            rows.append((f"feedback -> snapshot at {background:,.0f} pairs/s, p99", f"{_p99(latencies):.2f} s"))
        else:
            rows.append((f"feedback -> snapshot at {background:,.0f} pairs/s", "no snapshot within 60 s"))
        named = bench_weakness(base, Path(tmp), weak_rate, 2 * seconds)
        rows.append(
            (
                f"time to name a weakness at {weak_rate:,.0f} pairs/s (x >= 80 on one instance)",
                f"{named:.1f} s" if named is not None else f"not named within {seconds + 60:.0f} s",
            )
        )
        rows += bench_memory(base, Path(tmp), sustained or min(rates), memory_seconds)
        plain = base.model_copy(update={"topic_prefix": f"bp{uuid.uuid4().hex[:6]}."})
        client = admin(plain)
        create_topics(client, plain)
        by_route = f"{plain.topic_prefix}{BY_ROUTE}"
        client.create_topics([NewTopic(by_route, plain.topic_partitions, 1)])[by_route].result(30)
        _produce_pairs(plain, 0, pairs)
        rate = bench_plain_loop(plain, pairs)
        rows.append(("plain confluent-kafka loop, the worker's work, pairs/s", f"{rate:,.0f}"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=PAIRS, help="pairs in the backlog run")
    parser.add_argument("--rates", default=",".join(map(str, RATES)), help="comma-separated pairs/s to sustain")
    parser.add_argument("--seconds", type=float, default=SECONDS, help="how long each rate is sustained")
    parser.add_argument("--weak-rate", type=float, default=WEAK_RATE, help="pairs/s while a weakness appears")
    parser.add_argument("--memory-seconds", type=float, default=MEMORY_SECONDS, help="seconds of the memory run")
    args = parser.parse_args()
    rates = tuple(float(r) for r in args.rates.split(","))
    figures = run(
        pairs=args.pairs,
        rates=rates,
        seconds=args.seconds,
        weak_rate=args.weak_rate,
        memory_seconds=args.memory_seconds,
    )
    for name, value in figures:
        print(f"| {name} | {value} |", flush=True)


if __name__ == "__main__":
    main()
