"""The reference gateway against the real broker: routes, answers, emits events, hot-swaps."""

from __future__ import annotations

import time

import pytest

from infra.gateway import ReferenceGateway
from tests.infra.gateway.fakes import Registry, label_of
from tests.infra.gateway.weights_log import WeightsLog, vector
from tests.streams.worker_process import read_topic

pytestmark = pytest.mark.kafka


def test_predicts_produces_inference_events_and_hot_swaps(kafka_topics):
    log = WeightsLog(kafka_topics)
    log.send("credit", vector("credit", 1, ("credit-a", 1, 0.5), ("credit-b", 2, 0.5)))
    log.flush()
    registry = Registry()
    with ReferenceGateway(kafka_topics, registry) as gateway:
        assert gateway.models.loaded() == {"credit-a": [1], "credit-b": [2]}, "loaded before ready"
        answers = [gateway.predict("credit", f"r{i}", {"age": 30.0, "income": 2.0}, {"region": "n"}) for i in range(40)]
        assert {(a[0], a[1]) for a in answers} == {("credit-a", 1), ("credit-b", 2)}
        assert all(label == label_of(version) for _, version, label, _ in answers)

        log.send("credit", vector("credit", 2, ("credit-a", 3, 1.0)))
        log.flush()
        deadline = time.monotonic() + 30
        while gateway.predict("credit", "probe", {"age": 1.0, "income": 1.0})[:2] != ("credit-a", 3):
            assert time.monotonic() < deadline, "the gateway never served credit-a v3"
            time.sleep(0.05)
        assert gateway.flush() == 0 and gateway.failed_deliveries == 0
        with pytest.raises(ValueError, match="feature 'age' is nan"):
            gateway.predict("credit", "bad", {"age": float("nan")})

    events = read_topic(kafka_topics, "inference.events", lambda r: len(r) >= 41)
    first = next(e for e in events if e["request_id"] == "r0")
    assert first["route"] == "credit" and first["attributes"] == {"region": "n"}
    assert first["prediction"] == label_of(first["model_version"])
    assert sum(first["probabilities"].values()) == pytest.approx(1.0)
    assert any(e["model_version"] == 3 for e in events)
