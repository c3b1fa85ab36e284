"""Two streams workers split the partitions; a killed worker recovers its tables: no join lost, none counted twice."""

from __future__ import annotations

import uuid
from collections import Counter

import pytest
from confluent_kafka.admin import AdminClient

from infra.config import Settings
from streams.config import StreamSettings
from tests.streams.test_worker import Sender, feedback, inference
from tests.streams.worker_process import WorkerProcess, read_topic, worker_env

pytestmark = pytest.mark.kafka
EVENTS = 600


def test_two_workers_share_the_work_and_survive_a_kill(quiet_broker, tmp_path):
    settings = Settings(
        data_dir=tmp_path, kafka_bootstrap=quiet_broker, topic_prefix=f"t{uuid.uuid4().hex[:10]}.", topic_partitions=4
    )
    env = worker_env(settings, INSITU_SESSION_TIMEOUT="8", INSITU_FEEDBACK_TTL="1h")
    first = WorkerProcess(env, tmp_path / "first.log").start()
    second = WorkerProcess(env, tmp_path / "second.log").start()
    try:
        group = StreamSettings(topic_prefix=settings.topic_prefix).app_id
        admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
        _wait_for_members(admin, group, 2)

        send = Sender(settings)
        instances = ["credit-a", "credit-b", "credit-c"]
        for i in range(EVENTS):
            send.avro("inference.events", inference(f"r{i}", instances[i % 3], prediction="approve"))
        for i in range(EVENTS // 2):
            send.avro("feedback.events", feedback(f"r{i}", "approve" if i % 4 else "deny"))
        send.flush()
        read_topic(settings, "joined.events", lambda r: len(r) >= EVENTS // 2, timeout=300)

        for i in range(EVENTS // 2, EVENTS):
            send.avro("feedback.events", feedback(f"r{i}", "approve" if i % 4 else "deny"))
        send.flush()
        second.kill()  # mid-stream, without a chance to commit
        second = WorkerProcess(env, tmp_path / "second-again.log").start()

        try:
            joined = read_topic(
                settings, "joined.events", lambda r: len({x["request_id"] for x in r}) >= EVENTS, timeout=200
            )
        except AssertionError:
            seen = {r["request_id"] for r in read_topic(settings, "joined.events", lambda r: True)}
            dead = read_topic(settings, "deadletter", lambda r: True)
            missing = sorted(set(f"r{i}" for i in range(EVENTS)) - seen)
            msg = f"missing {missing}; dead letters {[(d['reason'], d['detail']) for d in dead]}"
            raise AssertionError(msg) from None
        # The join runs at least once: a replay after the kill may publish a joined record again.
        # Nothing is lost, and counting is by request id, so nothing is counted twice.
        distinct = {r["request_id"]: r for r in joined}
        assert len(distinct) == EVENTS, "no join lost"
        expected = Counter(r["instance_id"] for r in distinct.values())

        def counted_once(records):
            latest = {}
            for r in records:
                if r["window"] == "version":
                    latest[r["instance_id"]] = max(latest.get(r["instance_id"], r), r, key=lambda s: s["snapshot_ts"])
            return all(i in latest and latest[i]["labelled"] == n for i, n in expected.items())

        read_topic(settings, "metrics.snapshots", counted_once, timeout=300)
        dead = read_topic(settings, "deadletter", lambda r: True)
        assert not [d for d in dead if d["reason"] == "duplicate"], "a replayed half was seen as a duplicate"
    finally:
        first.stop()
        second.stop()


def _wait_for_members(admin: AdminClient, group: str, count: int, timeout: float = 90.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        description = admin.describe_consumer_groups([group])[group].result()
        members = [m for m in description.members if m.assignment.topic_partitions]
        if len(members) == count:
            return
        time.sleep(1)
    msg = f"group {group} never had {count} members with partitions"
    raise AssertionError(msg)
