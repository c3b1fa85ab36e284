"""Run a streams worker with only the router's agents (``python -m streams.worker --agents router``), and feed it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from infra.config import Settings
from infra.kafka_clients import producer
from schemas import Serde
from streams import internal
from streams.config import StreamSettings
from tests.streams.worker_process import WorkerProcess

COMMAND_KEY = "router-test-key-0123456789"


class RouterProcess(WorkerProcess):
    """``WorkerProcess`` running only the router's agents."""

    ARGS = ("--agents", "router")
    NAME = "router worker"


class Feed:
    """Joined events and model version events, as the join and the fine-tune worker produce them."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.joined_topic = internal.joined_by_route(StreamSettings.model_validate(settings.model_dump()))
        self.serde = Serde()
        self.producer = producer(settings, **{"linger.ms": 2})

    def joined(self, route: str, instance: str, version: int, correct: bool, **features: float) -> None:
        now = datetime.now(UTC)
        record = {
            "request_id": uuid.uuid4().hex,
            "route": route,
            "instance_id": instance,
            "model_version": version,
            "inference_ts": now,
            "feedback_ts": now,
            "features": features or {"age": 40.0},
            "attributes": {},
            "prediction": "approve",
            "probabilities": {},
            "label": "approve" if correct else "deny",
            "correct": correct,
        }
        self.producer.produce(self.joined_topic, key=route.encode(), value=self.serde.encode("joined.events", record))

    def version(
        self, route: str, instance: str, version: int, status: str, parent: int | None = None, **extra: Any
    ) -> None:
        record = {
            "event_id": uuid.uuid4().hex,
            "instance_id": instance,
            "route": route,
            "version": version,
            "parent_version": parent,
            "status": status,
            "ts": datetime.now(UTC),
            "reason": "test",
            **extra,
        }
        self.send("model.versions", instance.encode(), self.serde.encode("model.versions", record))

    def send(self, topic: str, key: bytes | None, value: bytes | None) -> None:
        self.producer.produce(self.settings.topic(topic), key=key, value=value)

    def flush(self) -> None:
        assert self.producer.flush(30) == 0
