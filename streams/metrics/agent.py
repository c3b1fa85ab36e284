"""The metrics agent: joined events and unlabelled notices into confusion buckets; snapshots on a timer."""

from __future__ import annotations

import json
import logging
import time
from collections import defaultdict
from typing import Any

from confluent_kafka import Producer

from infra.kafka_clients import producer
from schemas import Serde, SerializationError
from streams import topics
from streams.app import app, settings
from streams.deadletter import from_error
from streams.join.agent import unlabelled
from streams.join.logic import to_millis
from streams.metrics.buckets import (
    BUCKET_MS,
    RETAIN_MS,
    TOTAL,
    add_joined,
    add_unlabelled,
    bucket_of,
    entry_key,
    new_entry,
    parse_key,
    windows,
)
from streams.metrics.snapshot import snapshot_record

log = logging.getLogger(__name__)
SOURCE = "streams.metrics"
JOINED = settings.topic("joined.events")

serde = Serde.from_settings(settings)
source = app.topic(
    JOINED, unlabelled.get_topic_name(), key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
)
metric_buckets = app.Table("metric-buckets", default=None, partitions=settings.topic_partitions, key_type=str)


class SnapshotProducer:
    """Snapshots are sent from a timer, outside any stream transaction: a plain idempotent producer."""

    def __init__(self) -> None:
        self._producer: Producer | None = None

    def send(self, records: list[dict[str, Any]]) -> None:
        if self._producer is None:
            self._producer = producer(settings)
        for record in records:
            self._producer.produce(
                settings.topic("metrics.snapshots"),
                key=record["instance_id"].encode(),
                value=serde.encode("metrics.snapshots", record),
            )
        self._producer.poll(0)


snapshots = SnapshotProducer()


@app.agent(source)
async def metrics_agent(stream: Any) -> None:
    async for event in stream.events():
        message = event.message
        try:
            if message.topic == JOINED:
                record = serde.decode(
                    "joined.events", message.value, partition=message.partition, offset=message.offset
                )
                update(
                    record["instance_id"],
                    record["route"],
                    record["model_version"],
                    to_millis(record["inference_ts"]),
                    record["label"],
                    record["prediction"],
                )
            else:
                notice = json.loads(message.value)
                update(notice["instance_id"], notice["route"], notice["model_version"], notice["ts"], None, None)
        except SerializationError as exc:
            dead = from_error(exc, key=message.key, value=message.value, source=SOURCE)
            await topics.deadletter.send(key=message.key, value=serde.encode("deadletter", dead))


def update(instance_id: str, route: str, version: int, ts_ms: int, label: str | None, prediction: str | None) -> None:
    """Count one labelled (or unlabelled, when ``label`` is None) prediction in its bucket and the total."""
    bucket = bucket_of(ts_ms)
    now_ms = int(time.time() * 1000)
    if bucket < bucket_of(now_ms - RETAIN_MS):
        keys = [entry_key(instance_id, version, TOTAL)]  # too old for any time window
    else:
        keys = [entry_key(instance_id, version, bucket), entry_key(instance_id, version, TOTAL)]
    for key in keys:
        entry = metric_buckets.get(key) or new_entry(route, ts_ms)
        entry = add_unlabelled(entry) if label is None else add_joined(entry, label, prediction or "")
        metric_buckets[key] = entry
    if label is None or ts_ms % BUCKET_MS < 1000:
        _prune(instance_id, version, now_ms)


def _prune(instance_id: str, version: int, now_ms: int) -> None:
    """Drop buckets older than the longest window (runs in the instance's partition: same as the event's)."""
    oldest = bucket_of(now_ms - RETAIN_MS)
    prefix = entry_key(instance_id, version, "")
    stale = [
        k
        for k in list(metric_buckets.keys())
        if k.startswith(prefix) and not k.endswith(TOTAL) and int(parse_key(k)[2]) < oldest
    ]
    for key in stale:
        metric_buckets.pop(key, None)


def current_snapshots(now_ms: int) -> list[dict[str, Any]]:
    """Snapshot records for every instance version this worker holds."""
    grouped: dict[tuple[str, int], dict[str, dict[str, Any]]] = defaultdict(dict)
    for key, entry in list(metric_buckets.items()):
        if entry is None:
            continue
        instance_id, version, bucket = parse_key(key)
        grouped[(instance_id, version)][bucket] = entry
    records = []
    for (instance_id, version), entries in sorted(grouped.items()):
        route = next(iter(entries.values()))["route"]
        for window in windows(entries, now_ms):
            records.append(snapshot_record(instance_id, route, version, window, now_ms))
    return records


@app.timer(interval=settings.snapshot_interval)
async def _snapshot() -> None:
    records = current_snapshots(int(time.time() * 1000))
    if records:
        snapshots.send(records)
