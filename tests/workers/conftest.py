"""Fixtures of the workers' tests: the Agrawal scenario's models (trained once), workers in threads, topic reads."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import torch

from infra.config import Settings
from infra.kafka_clients import producer
from infra.registry.family import ModelFamily
from infra.topic_reader import TopicReader
from infra.topics import message_key
from schemas import Serde
from tests.workers import scenario

torch.set_num_threads(1)


@dataclass(frozen=True)
class ScenarioModels:
    family: ModelFamily
    weak: torch.nn.Module  # agrawal-a: barely saw age >= 60
    strong: torch.nn.Module  # agrawal-b: saw everything


@pytest.fixture(scope="session")
def scenario_models() -> ScenarioModels:
    rows = scenario.draw(8000, seed=1)
    family = scenario.family(rows)
    weak = scenario.train(family, scenario.barely_saw_the_slice(rows), epochs=40, seed=0)
    strong = scenario.train(family, rows, epochs=40, seed=1)
    return ScenarioModels(family, weak, strong)


class Running:
    """A worker's ``run()`` in a thread; ``stop()`` asks it to finish and waits."""

    def __init__(self, worker: Any) -> None:
        self.worker = worker
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.worker.run()
        except BaseException as exc:  # reported by stop()
            self.error = exc

    def __enter__(self) -> Running:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self.worker.stop()
        self.thread.join(60)
        assert not self.thread.is_alive(), "worker did not stop"
        if self.error is not None:
            raise self.error


def send(settings: Settings, topic: str, records: list[dict[str, Any]]) -> None:
    serde, kafka = Serde(), producer(settings)
    for record in records:
        kafka.produce(settings.topic(topic), key=message_key(topic, record), value=serde.encode(topic, record))
        kafka.poll(0)
    assert kafka.flush(60) == 0


def send_raw(settings: Settings, topic: str, key: bytes, value: bytes) -> None:
    kafka = producer(settings)
    kafka.produce(settings.topic(topic), key=key, value=value)
    assert kafka.flush(30) == 0


def wait_for(
    settings: Settings, topic: str, done: Callable[[list[dict[str, Any]]], bool], timeout: float = 180.0
) -> list[dict[str, Any]]:
    """Every record of ``topic`` from the beginning, read until ``done(records)`` or ``timeout`` (then fail)."""
    records: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    with TopicReader(settings, topic, serde=Serde(), name="test") as reader:
        while not done(records):
            assert time.monotonic() < deadline, f"{topic}: condition not met after {timeout}s; read {records}"
            for message in reader.poll(0.5):
                assert message.record is not None, message.error
                records.append(message.record)
    return records


def profile_change(instance: str, *, slice_record: dict[str, Any] | None = None, **overrides: Any) -> dict[str, Any]:
    record = {
        "change_id": f"chg-{uuid.uuid4().hex[:8]}",
        "instance_id": instance,
        "route": scenario.ROUTE,
        "model_version": 1,
        "profile_version": 1,
        "ts": int(time.time() * 1000),
        "kind": "slice_appeared",
        "slice": slice_record
        if slice_record is not None
        else {
            **scenario.SLICE.to_record(),
            "support": 600,
            "error": 0.56,
            "error_low": 0.52,
            "error_high": 0.6,
            "lift": 3.5,
            "peer_error": 0.04,
            "hard_for_all": False,
        },
        "rebuilt_after_drift": False,
        "detail": "test",
    }
    record.update(overrides)
    return record
