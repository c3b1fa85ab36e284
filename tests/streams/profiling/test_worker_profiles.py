"""Weakness profiles through the streams worker, against the real broker (the streaming issue's done-when)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import numpy as np
import pytest

from schemas.slices import Slice
from tests.streams.profiling import simulate as sim
from tests.streams.test_worker import Sender
from tests.streams.worker_process import WorkerProcess, read_topic, worker_env

pytestmark = pytest.mark.kafka
EVENTS = 1000  # per instance, in two halves (each a multiple of build_every, 250)
AFTER = 1000  # events per instance after the restart, in two halves (each a multiple of build_every, 250)
INFERENCE_FIELDS = (
    "request_id",
    "route",
    "instance_id",
    "model_version",
    "features",
    "attributes",
    "prediction",
    "probabilities",
)


def send_pairs(send: Sender, streams: list) -> None:
    now = datetime.now(UTC)
    for batch in zip(*streams, strict=True):
        for joined in batch:
            inference = {k: joined[k] for k in INFERENCE_FIELDS}
            send.avro("inference.events", inference | {"ts": now})
            send.avro("feedback.events", {"request_id": joined["request_id"], "label": joined["label"], "ts": now})
    send.flush()


def built_for_all(instances: list[sim.Instance], events: int, since_version: dict[str, int] | None = None):
    """Until a profile over ``events`` events exists for every instance (newer than ``since_version``):
    builds due while one runs are coalesced, so wait for one over every event."""

    def done(records: list[dict]) -> bool:
        covered: dict[str, int] = {}
        for r in records:
            if r["profile_version"] > (since_version or {}).get(r["instance_id"], 0):
                covered[r["instance_id"]] = max(covered.get(r["instance_id"], 0), r["events"])
        return all(covered.get(i.name, 0) >= events for i in instances)

    return done


def announced(changes: list[dict], instance: sim.Instance) -> bool:
    return any(c["kind"] == "slice_appeared" and c["instance_id"] == instance.name for c in changes)


def test_a_planted_weakness_becomes_the_weak_instance_top_slice_and_a_restart_does_not_announce_it_again(
    kafka_topics, tmp_path
):
    weak = sim.Instance("credit-a", weaknesses=[(sim.planted_box, 0.6)])
    peers = [sim.Instance("credit-b"), sim.Instance("credit-c")]
    instances = [weak, *peers]
    rng = np.random.default_rng(7)
    # A killed worker leaves the group soon; builds back to back (SHAP takes seconds; no throttle wait between).
    env = worker_env(kafka_topics, INSITU_FEEDBACK_TTL="1h", INSITU_SESSION_TIMEOUT="8", INSITU_PROFILE_BUILD_SHARE="1")
    send = Sender(kafka_topics)
    process = WorkerProcess(env, tmp_path / "worker.log").start()
    try:  # in two halves, so that two builds over large windows name the slice: it is announced
        for start in (0, EVENTS // 2):
            send_pairs(send, [sim.records(rng, instance, EVENTS // 2, start_ts=start) for instance in instances])
            profiles = read_topic(kafka_topics, "profiles", built_for_all(instances, start + EVENTS // 2), timeout=300)
        read_topic(kafka_topics, "profile.changes", lambda r: announced(r, weak), timeout=120)
    finally:
        process.kill()  # kill -9: no chance to save anything on the way out

    latest = max((p for p in profiles if p["instance_id"] == weak.name), key=lambda p: p["profile_version"])
    assert latest["events"] == EVENTS and latest["slices"], latest["window"]
    top = latest["slices"][0]
    frame, age, income, region = sim.uniform_frame(np.random.default_rng(99), 20_000)
    precision, recall = sim.precision_recall(
        Slice.from_predicate(top["predicate"]).mask(frame), sim.planted_box(age, income, region)
    )
    assert precision >= 0.8 and recall >= 0.8, top["description"]
    assert not top["hard_for_all"] and top["peer_error"] is not None and top["peer_error"] < top["error"]
    assert latest["shap_attribution"], "errors are attributed to features"
    changes = read_topic(kafka_topics, "profile.changes", lambda r: True)
    appeared = Counter(c["instance_id"] for c in changes if c["kind"] == "slice_appeared")
    assert appeared[weak.name] == 1, [c["detail"] for c in changes]
    assert appeared[peers[0].name] == 0 and appeared[peers[1].name] == 0

    # A new worker after the kill: the same weakness, two more builds per instance; nothing announced again.
    before = {i.name: max(p["profile_version"] for p in profiles if p["instance_id"] == i.name) for i in instances}
    process = WorkerProcess(env, tmp_path / "worker-2.log").start()
    try:  # again two builds that name the slice, which would announce it again were it forgotten
        for start in (EVENTS, EVENTS + AFTER // 2):
            send_pairs(send, [sim.records(rng, instance, AFTER // 2, start_ts=start) for instance in instances])
            done = built_for_all(instances, start - EVENTS + AFTER // 2, before)
            profiles = read_topic(kafka_topics, "profiles", done, timeout=300)
    finally:
        process.stop()
    for instance in instances:
        versions = [p["profile_version"] for p in profiles if p["instance_id"] == instance.name]
        assert len(versions) == len(set(versions)) and max(versions) > before[instance.name], versions
    changes = read_topic(kafka_topics, "profile.changes", lambda r: True)
    appeared = Counter(c["instance_id"] for c in changes if c["kind"] == "slice_appeared")
    assert appeared == {weak.name: 1}, [c["detail"] for c in changes]
    assert len({c["change_id"] for c in changes}) == len(changes)
