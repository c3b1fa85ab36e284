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
EVENTS = 2000


def test_a_planted_weakness_becomes_the_weak_instance_top_slice(kafka_topics, tmp_path):
    weak = sim.Instance("credit-a", weaknesses=[(sim.planted_box, 0.6)])
    peers = [sim.Instance("credit-b"), sim.Instance("credit-c")]
    rng = np.random.default_rng(7)
    process = WorkerProcess(worker_env(kafka_topics, INSITU_FEEDBACK_TTL="1h"), tmp_path / "worker.log").start()
    try:
        send = Sender(kafka_topics)
        now = datetime.now(UTC)
        streams = [sim.records(rng, instance, EVENTS) for instance in [weak, *peers]]
        for batch in zip(*streams, strict=True):
            for joined in batch:
                inference = {
                    k: joined[k]
                    for k in (
                        "request_id",
                        "route",
                        "instance_id",
                        "model_version",
                        "features",
                        "attributes",
                        "prediction",
                        "probabilities",
                    )
                }
                send.avro("inference.events", inference | {"ts": now})
                send.avro("feedback.events", {"request_id": joined["request_id"], "label": joined["label"], "ts": now})
        send.flush()

        def built_for_all(records):  # builds due while one runs are coalesced: wait for one over every event
            covered = {}
            for r in records:
                covered[r["instance_id"]] = max(covered.get(r["instance_id"], 0), r["events"])
            return all(covered.get(i.name, 0) >= EVENTS for i in [weak, *peers])

        profiles = read_topic(kafka_topics, "profiles", built_for_all, timeout=300)
    finally:
        process.stop()

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
