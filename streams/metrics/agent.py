"""The metrics agent: each joined event or unlabelled notice is one table entry keyed by request id.

Writing one small entry per request makes counting idempotent: a duplicate joined record (the join
runs at least once) or a replay after a crash finds its entry and is skipped, and every write is
atomic. Sums are kept in memory (``VersionAggregate``), rebuilt from the table after a rebalance,
and snapshots of them go to ``metrics.snapshots`` on a timer. Records the stream skipped are read
back and counted first (``streams.continuity``).
"""

from __future__ import annotations

import json
import logging
import time
from collections import defaultdict
from typing import Any

from infra.kafka_clients import LazyProducer
from schemas import Serde
from streams import stages, topology
from streams.app import app, settings
from streams.continuity import Continuities
from streams.deadletter import DeadLetters, Message
from streams.join.logic import to_millis
from streams.metrics.aggregate import Counts, VersionAggregate, bucket_of
from streams.metrics.snapshot import snapshot_record
from streams.topology import JOINED, UNLABELLED, metrics_source

log = logging.getLogger(__name__)
SOURCE = "streams.metrics"
SEP = "\x1f"

serde = Serde.from_settings(settings)
dead_letters = DeadLetters(SOURCE, serde)
entries = topology.metric_entries()
lag = stages.stage("metrics", JOINED, UNLABELLED)

Version = tuple[str, int]


class State:
    """In-memory sums derived from the table, per partition, rebuilt lazily after a rebalance."""

    def __init__(self) -> None:
        self.aggregates: dict[Version, VersionAggregate] = {}
        self.partition_of: dict[Version, int] = {}
        self.members: dict[tuple[str, int, int], list[str]] = defaultdict(list)
        self.built: set[int] = set()
        self.stale: dict[int, list[str]] = defaultdict(list)

    def reset(self) -> None:
        self.__init__()  # type: ignore[misc]

    def ensure_built(self, partition: int) -> None:
        if partition in self.built:
            return
        requests = []
        for key, value in list(entries.items()):
            if value is None or value.get("p") != partition:
                continue
            if key.startswith("a" + SEP):
                agg = self.aggregate(value["i"], value["v"], value["r"], value["first_ts"], partition)
                agg.archive = Counts.from_json(value["counts"])
                agg.archived_through = value["through"]
            else:
                requests.append((key, value))
        for key, value in requests:
            agg = self.aggregate(value["i"], value["v"], value["r"], value["b"], partition)
            if value["b"] <= agg.archived_through:
                self.stale[partition].append(key)  # folded before a crash, delete pending
                continue
            agg.add(value["b"], value["l"], value["y"])
            self.members[(value["i"], value["v"], value["b"])].append(key)
        self.built.add(partition)

    def aggregate(self, instance: str, version: int, route: str, first_ts: int, partition: int) -> VersionAggregate:
        key = (instance, version)
        if key not in self.aggregates:
            self.aggregates[key] = VersionAggregate(route=route, first_ts=first_ts)
            self.partition_of[key] = partition
        return self.aggregates[key]


state = State()


@app.on_partitions_assigned.connect  # type: ignore[arg-type]
async def _rebuild_after_rebalance(app: Any, *args: Any, **kwargs: Any) -> None:
    state.reset()


snapshots = LazyProducer(settings)  # sent from a timer, outside stream processing


# The join publishes without transactions: offsets follow one another, holes are looked for always.
continuity = Continuities(settings, group=settings.app_id, topics=(JOINED, UNLABELLED))


@app.on_partitions_revoked.connect  # type: ignore[arg-type]
async def _forget_offsets(app: Any, *args: Any, **kwargs: Any) -> None:
    continuity.forget()


@app.agent(metrics_source)
async def metrics_agent(stream: Any) -> None:
    async for event in stream.events():
        message = event.message
        for record in await continuity.missing(message):
            await dead_letters.guard(record, observe(record))
        await dead_letters.guard(message, observe(message))
        stages.processed(lag, message)


async def observe(message: Message) -> None:
    """Count a joined event, or an unlabelled notice from the join."""
    if message.topic == JOINED:
        record = serde.decode("joined.events", message.value, partition=message.partition, offset=message.offset)
        label, prediction, ts_ms = record["label"], record["prediction"], to_millis(record["inference_ts"])
    else:
        record = json.loads(message.value or b"")
        label, prediction, ts_ms = None, "", record["ts"]
    count(
        message.partition,
        record["request_id"],
        record["instance_id"],
        record["route"],
        record["model_version"],
        ts_ms,
        label,
        prediction,
    )


def count(
    partition: int,
    request_id: str,
    instance: str,
    route: str,
    version: int,
    ts_ms: int,
    label: str | None,
    prediction: str,
) -> None:
    """Count one prediction once (``label`` None: its label never came). Runs in the event's partition."""
    state.ensure_built(partition)
    for key in state.stale.pop(partition, []):
        entries.pop(key, None)
    key = "r" + SEP + request_id
    if entries.get(key) is not None:
        return  # counted already: a duplicate or a replay
    bucket = bucket_of(ts_ms)
    entries[key] = {"i": instance, "r": route, "v": version, "b": bucket, "l": label, "y": prediction, "p": partition}
    agg = state.aggregate(instance, version, route, bucket, partition)
    agg.add(bucket, label, prediction)
    state.members[(instance, version, bucket)].append(key)
    fold_expired(instance, version, agg, partition)


def fold_expired(instance: str, version: int, agg: VersionAggregate, partition: int) -> None:
    """Move buckets older than the longest window into the archive entry, then drop their requests."""
    for bucket in agg.expired(int(time.time() * 1000)):
        agg.fold(bucket)
        entries["a" + SEP + instance + SEP + str(version)] = {
            "i": instance,
            "v": version,
            "r": agg.route,
            "first_ts": agg.first_ts,
            "through": agg.archived_through,
            "counts": agg.archive.to_json(),
            "p": partition,
        }
        for key in state.members.pop((instance, version, bucket), []):
            entries.pop(key, None)


def current_snapshots(now_ms: int) -> list[dict[str, Any]]:
    """Snapshot records of every instance version in the partitions this worker owns."""
    owned = {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == JOINED}
    for partition in owned:
        state.ensure_built(partition)
    records = []
    for (instance, version), agg in sorted(state.aggregates.items()):
        if state.partition_of[(instance, version)] not in owned:
            continue
        for window in agg.windows(now_ms):
            records.append(snapshot_record(instance, agg.route, version, window, now_ms))
    return records


@app.timer(interval=settings.snapshot_interval)
async def _snapshot() -> None:
    if app.rebalancing:
        return
    snapshots.produce_records(serde, "metrics.snapshots", current_snapshots(int(time.time() * 1000)), key="instance_id")
