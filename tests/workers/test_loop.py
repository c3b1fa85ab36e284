"""The workers' loop never retries an output the broker can never take: the input is dead-lettered (real broker)."""

from __future__ import annotations

import base64
import os
from typing import Any

import pytest
from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource

from infra.config import Settings
from infra.kafka_clients import admin
from schemas import Serde
from tests.samples import SAMPLES
from tests.workers.conftest import Running, send, wait_for
from workers.loop import WorkerLoop

pytestmark = pytest.mark.kafka
SERDE = Serde()


def loop(settings: Settings) -> WorkerLoop:
    """Reads ``feedback.events``; each label is the size of the ``model.versions`` reason it makes."""

    def handler(record: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        noise = base64.b64encode(os.urandom(int(record["label"]))).decode()  # incompressible
        version = SERDE.from_json("model.versions", SAMPLES["model.versions"]) | {"reason": noise}
        return [("model.versions", version | {"event_id": record["request_id"]})]

    return WorkerLoop(
        settings, topic="feedback.events", group_id="loop-test", source="test.loop", handler=handler, serde=SERDE
    )


def labels(sizes: list[int]) -> list[dict[str, Any]]:
    return [{"request_id": f"r{i}", "label": str(size), "ts": 0} for i, size in enumerate(sizes)]


def test_an_output_over_the_record_limit_dead_letters_its_input(kafka_topics: Settings) -> None:
    settings = kafka_topics.model_copy(update={"max_record_bytes": 4_096})
    send(settings, "feedback.events", labels([100, 10_000, 100]))
    worker = loop(settings)
    with Running(worker):
        versions = wait_for(settings, "model.versions", lambda records: len(records) == 2)
        (dead,) = wait_for(settings, "deadletter", lambda records: len(records) == 1)
    assert sorted(v["event_id"] for v in versions) == ["r0", "r2"]
    assert dead["reason"] == "too_large" and "INSITU_MAX_RECORD_BYTES" in dead["detail"]
    assert SERDE.decode("feedback.events", dead["original_value"])["request_id"] == "r1"
    assert worker.stats.messages == 3


def test_an_output_the_broker_refuses_dead_letters_its_input(kafka_topics: Settings) -> None:
    topic = ConfigResource(ConfigResource.Type.TOPIC, kafka_topics.topic("model.versions"))
    limit = ConfigEntry("max.message.bytes", "4096", incremental_operation=AlterConfigOpType.SET)
    topic.add_incremental_config(limit)
    client = admin(kafka_topics)  # kept: its futures fail once it is collected
    for future in client.incremental_alter_configs([topic]).values():
        future.result(30)
    send(kafka_topics, "feedback.events", labels([100, 50_000, 100]))
    with Running(loop(kafka_topics)):
        versions = wait_for(kafka_topics, "model.versions", lambda records: len(records) == 2)
        (dead,) = wait_for(kafka_topics, "deadletter", lambda records: len(records) == 1)
    assert sorted(v["event_id"] for v in versions) == ["r0", "r2"]
    assert dead["reason"] == "too_large" and "refused" in dead["detail"], dead["detail"]
    assert SERDE.decode("feedback.events", dead["original_value"])["request_id"] == "r1"
