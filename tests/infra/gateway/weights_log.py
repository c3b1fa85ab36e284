"""Produce routing.weights vectors and tombstones as the router would."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from infra.config import Settings
from infra.kafka_clients import producer
from schemas import Serde


def vector(route: str, epoch: int, *entries: tuple[str, int, float], reason: str = "test") -> dict[str, Any]:
    return {
        "route": route,
        "epoch": epoch,
        "ts": datetime.now(UTC),
        "reason": reason,
        "weights": [{"instance_id": i, "version": v, "weight": w, "role": "stable"} for i, v, w in entries],
        "frozen": False,
    }


class WeightsLog:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.serde = Serde()
        self.producer = producer(settings, **{"linger.ms": 0})

    def send(self, route: str, record: dict[str, Any] | None) -> None:
        value = None if record is None else self.serde.encode("routing.weights", record)
        self.producer.produce(self.settings.topic("routing.weights"), key=route.encode(), value=value)

    def raw(self, key: bytes, value: bytes) -> None:
        self.producer.produce(self.settings.topic("routing.weights"), key=key, value=value)

    def flush(self) -> None:
        assert self.producer.flush(30) == 0
