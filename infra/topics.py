"""The topic catalog: every insitu topic with its key, partitions, cleanup and retention, as code."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

from infra.config import Settings

DAY_MS = 24 * 3600 * 1000

# Compaction must actually happen: the active segment never compacts, so roll
# segments every 5 minutes; clean as soon as 1% is dirty; and force a cleaning
# within 15 minutes whatever the ratio. Tombstones stay a day so a gateway
# reading the log from the start still sees a route's deletion.
COMPACTED = {
    "cleanup.policy": "compact",
    "segment.ms": "300000",
    "min.cleanable.dirty.ratio": "0.01",
    "max.compaction.lag.ms": "900000",
    "delete.retention.ms": str(DAY_MS),
}


def _deleted_after(days: int, **extra: str) -> dict[str, str]:
    return {"cleanup.policy": "delete", "retention.ms": str(days * DAY_MS), **extra}


@dataclass(frozen=True)
class TopicSpec:
    """One catalog topic. ``partitions`` of ``None`` means the deployment's ``topic_partitions``."""

    name: str
    key: str
    doc: str
    config: dict[str, str] = field(default_factory=dict)
    partitions: int | None = None

    @property
    def cleanup(self) -> str:
        return self.config["cleanup.policy"]

    def partition_count(self, settings: Settings) -> int:
        return self.partitions or settings.topic_partitions


CATALOG: tuple[TopicSpec, ...] = (
    TopicSpec("inference.events", "request_id", "one prediction", _deleted_after(7)),
    TopicSpec("feedback.events", "request_id", "the true label of a request", _deleted_after(7)),
    TopicSpec("joined.events", "instance_id", "inference joined with feedback, anonymised", _deleted_after(7)),
    TopicSpec("metrics.snapshots", "instance_id", "per-instance metrics over named windows", _deleted_after(7)),
    TopicSpec("stage.lag", "stage", "how far each stage of each process is behind its inputs", _deleted_after(7)),
    TopicSpec("profiles", "instance_id", "latest weakness profile per instance", dict(COMPACTED)),
    TopicSpec("profile.changes", "instance_id", "a profile changed materially", _deleted_after(7)),
    TopicSpec(
        "synthetic.batches",
        "instance_id",
        "labelled synthetic rows for one instance",
        _deleted_after(7, **{"max.message.bytes": str(16 * 1024 * 1024)}),
    ),
    TopicSpec("model.versions", "instance_id", "candidate/promoted/rejected/rolled-back versions", _deleted_after(30)),
    TopicSpec("routing.weights", "route", "full weight vector of a route", dict(COMPACTED), partitions=1),
    TopicSpec("commands", "instance_id", "signed operator commands", _deleted_after(30), partitions=1),
    TopicSpec("command.results", "instance_id", "every command outcome (audit)", _deleted_after(90), partitions=1),
    TopicSpec("deadletter", "original key", "rejected input with reason and original bytes", _deleted_after(30)),
)

BY_NAME = {spec.name: spec for spec in CATALOG}


def spec(name: str) -> TopicSpec:
    """The catalog entry of a logical topic name, or a clear error."""
    try:
        return BY_NAME[name]
    except KeyError:
        msg = f"unknown topic {name!r}; the catalog has: {', '.join(BY_NAME)}"
        raise KeyError(msg) from None


@dataclass(frozen=True)
class TopicReport:
    """What ``create_topics`` found or did for one topic."""

    topic: str
    status: str  # created | exists | differs
    differences: tuple[str, ...] = ()

    def __str__(self) -> str:
        text = f"{self.topic}: {self.status}"
        return text + "".join(f"\n  - {d}" for d in self.differences)


def create_topics(
    admin: AdminClient, settings: Settings, timeout: float = 30.0, *, internal: Sequence[NewTopic] = ()
) -> list[TopicReport]:
    """Create missing catalog topics (and ``internal`` ones, topics of one component, whose replication
    is decided here too: ``replication``); report existing catalog topics whose partitions or config differ."""
    metadata = admin.list_topics(timeout=timeout)
    existing = metadata.topics
    factor, durability = replication(settings, len(metadata.brokers))
    new = [
        NewTopic(
            settings.topic(s.name),
            num_partitions=s.partition_count(settings),
            replication_factor=factor,
            config={**s.config, **durability},
        )
        for s in CATALOG
        if settings.topic(s.name) not in existing
    ]
    new += [
        NewTopic(t.topic, t.num_partitions, factor, config={**(t.config or {}), **durability})
        for t in internal
        if t.topic not in existing
    ]
    created = set()
    if new:
        for name, future in admin.create_topics(new, request_timeout=timeout).items():
            try:
                future.result()
                created.add(name)
            except KafkaException as exc:
                if exc.args[0].name() != "TOPIC_ALREADY_EXISTS":
                    msg = f"creating topic {name} failed: {exc.args[0].str()}"
                    raise RuntimeError(msg) from exc
    _wait_until_visible(admin, created, timeout)
    live = describe_topics(admin, settings, timeout)
    reports = []
    for s in CATALOG:
        name = settings.topic(s.name)
        if name in created:
            reports.append(TopicReport(name, "created"))
            continue
        diffs = _differences(s, settings, live[name])
        reports.append(TopicReport(name, "differs" if diffs else "exists", tuple(diffs)))
    return reports


def replication(settings: Settings, brokers: int) -> tuple[int, dict[str, str]]:
    """Replication factor and durability config of new topics on a cluster of ``brokers``.

    >>> replication(Settings(), 1), replication(Settings(), 3)
    ((1, {}), (3, {'min.insync.replicas': '2'}))
    >>> replication(Settings(topic_replication=2), 5)
    (2, {})
    """
    factor = settings.topic_replication or (3 if brokers >= 3 else 1)
    return factor, ({"min.insync.replicas": "2"} if factor >= 3 else {})


def _wait_until_visible(admin: AdminClient, names: set[str], timeout: float) -> None:
    """New topics reach the broker's metadata a moment after creation; wait for every leader."""
    deadline = time.monotonic() + timeout
    while names:
        topics = admin.list_topics(timeout=timeout).topics
        ready = {
            n
            for n in names
            if n in topics and topics[n].error is None and all(p.leader >= 0 for p in topics[n].partitions.values())
        }
        if ready == names:
            return
        if time.monotonic() > deadline:
            msg = f"topics not ready after {timeout:.0f}s: {sorted(names - ready)}"
            raise RuntimeError(msg)
        time.sleep(0.1)


def describe_topics(admin: AdminClient, settings: Settings, timeout: float = 30.0) -> dict[str, dict[str, Any]]:
    """Live partitions and configs of the catalog topics that exist, by physical name."""
    metadata = admin.list_topics(timeout=timeout).topics
    names = [settings.topic(s.name) for s in CATALOG if settings.topic(s.name) in metadata]
    if not names:
        return {}
    resources = [ConfigResource(ConfigResource.Type.TOPIC, n) for n in names]
    out: dict[str, dict[str, Any]] = {}
    for resource, future in admin.describe_configs(resources, request_timeout=timeout).items():
        entries = future.result()
        out[resource.name] = {
            "partitions": len(metadata[resource.name].partitions),
            "config": {k: e.value for k, e in entries.items()},
            "overrides": sorted(k for k, e in entries.items() if not e.is_default),
        }
    return out


def _differences(s: TopicSpec, settings: Settings, live: dict[str, Any]) -> list[str]:
    diffs = []
    want = s.partition_count(settings)
    if live["partitions"] != want:
        diffs.append(f"partitions: live {live['partitions']}, catalog {want}")
    for key, value in s.config.items():
        if live["config"].get(key) != value:
            diffs.append(f"{key}: live {live['config'].get(key)!r}, catalog {value!r}")
    return diffs


def message_key(topic: str, record: dict[str, Any]) -> bytes | None:
    """The Kafka key of a record on a catalog topic, as UTF-8 (the contract in DESIGN.md).

    >>> message_key("inference.events", {"request_id": "r-1"})
    b'r-1'
    >>> message_key("commands", {"targets": [{"kind": "route", "name": "credit"}]})
    b'credit'
    """
    if topic == "deadletter":
        return record.get("original_key")
    if topic in ("commands", "command.results"):
        targets = record.get("targets") or []
        return targets[0]["name"].encode() if targets else None
    value = record.get(spec(topic).key)
    return None if value is None else str(value).encode()
