"""A traffic simulator acting as an existing service: requests through the gateway, labels later.

Each request is a row of the scenario's dataset, drawn as the current phase says
(regions left out or made more frequent). The ``ReferenceGateway`` picks the instance by
the router's weights, answers, and produces the inference event; the true label goes
to ``feedback.events`` after a random delay, as a real service's feedback would.
"""

from __future__ import annotations

import heapq
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from infra.app.scenarios.spec import Labelled, Phase, Scenario
from infra.config import Settings
from infra.gateway import ReferenceGateway
from infra.kafka_clients import producer
from schemas import Serde

log = logging.getLogger(__name__)
POOL = 4096  # rows drawn from the dataset at a time


@dataclass
class TrafficStats:
    requests: int = 0
    feedback: int = 0
    errors: int = 0
    served: Counter[str] = field(default_factory=Counter)
    correct: Counter[str] = field(default_factory=Counter)
    phase: str = ""


class PhaseRows:
    """An endless stream of labelled rows for one phase."""

    def __init__(self, scenario: Scenario, phase: Phase, seed: int) -> None:
        self.scenario = scenario
        self.exclude = phase.exclude
        self.focus = phase.oversample
        self.share = phase.share if self.focus is not None else 0.0
        self.rng = random.Random(seed)
        self.seed = seed
        self.inside: list[Labelled] = []
        self.outside: list[Labelled] = []

    def _refill(self) -> None:
        self.seed += 1
        for row in self.scenario.dataset.draw(POOL, seed=self.seed):
            if self.exclude is not None and self.exclude.contains(*row[0]):
                continue
            if self.focus is not None and self.focus.contains(*row[0]):
                self.inside.append(row)
            else:
                self.outside.append(row)

    def __iter__(self) -> Iterator[Labelled]:
        while True:
            want_inside = self.rng.random() < self.share
            pool = self.inside if want_inside else self.outside
            tries = 0
            while not pool:
                self._refill()
                tries += 1
                if tries > 50:
                    msg = f"phase draws no rows {'inside' if want_inside else 'outside'} its region"
                    raise RuntimeError(msg)
            yield pool.pop()


class TrafficSimulator:
    """``run(stop)`` sends the scenario's phases at its rate; ``stats`` and ``phase_started`` follow it."""

    def __init__(self, settings: Settings, scenario: Scenario, gateway: ReferenceGateway, *, run_id: str) -> None:
        self.settings = settings
        self.scenario = scenario
        self.gateway = gateway
        self.run_id = run_id
        self.stats = TrafficStats()
        self.phase_started: dict[str, float] = {}  # phase -> time.time() when it began
        self._serde = Serde.from_settings(settings)
        self._feedback: Any = None
        self._pending: list[tuple[float, int, dict[str, Any]]] = []
        self._lock = threading.Lock()

    def run(self, stop: threading.Event) -> TrafficStats:
        self._feedback = producer(self.settings)
        rng = random.Random(self.scenario.traffic.seed)
        low, high = self.scenario.traffic.feedback_delay_s
        interval = 1.0 / self.scenario.traffic.rate
        number = 0
        try:
            for index, phase in enumerate(self.scenario.phases):
                rows = iter(PhaseRows(self.scenario, phase, seed=self.scenario.traffic.seed * 1000 + index * 100))
                self.stats.phase = phase.name
                began = time.time()
                self.phase_started[phase.name] = began
                log.info("traffic phase %r for %.0fs", phase.name, phase.duration_s)
                due = time.monotonic()
                end = due + phase.duration_s
                while not stop.is_set() and due < end:
                    (features, attributes), label = next(rows)
                    number += 1
                    self._request(f"{self.run_id}-{number}", features, attributes, label, rng.uniform(low, high))
                    self._send_due_feedback()
                    due += interval
                    pause = due - time.monotonic()
                    if pause > 0:
                        stop.wait(pause)
                if stop.is_set():
                    break
            self._drain(stop, high)
        finally:
            self._feedback.flush(30)
            self.gateway.flush(30)
        return self.stats

    def _request(
        self, request_id: str, features: dict[str, float], attributes: dict[str, str], label: str, delay: float
    ) -> None:
        try:
            instance, _, prediction, _ = self.gateway.predict(self.scenario.route, request_id, features, attributes)
        except Exception as exc:  # a request the gateway cannot answer is counted, and the next one goes out
            self.stats.errors += 1
            if self.stats.errors <= 5:
                log.warning("request %s failed: %s", request_id, exc)
            return
        self.stats.requests += 1
        self.stats.served[instance] += 1
        self.stats.correct[instance] += prediction == label
        record = {"request_id": request_id, "label": label, "ts": datetime.now(UTC)}
        heapq.heappush(self._pending, (time.monotonic() + delay, self.stats.requests, record))

    def _send_due_feedback(self) -> None:
        now = time.monotonic()
        while self._pending and self._pending[0][0] <= now:
            _, _, record = heapq.heappop(self._pending)
            record["ts"] = datetime.now(UTC)
            value = self._serde.encode("feedback.events", record)
            while True:
                try:
                    self._feedback.produce(
                        self.settings.topic("feedback.events"), key=record["request_id"].encode(), value=value
                    )
                    break
                except BufferError:
                    self._feedback.poll(0.1)
            self.stats.feedback += 1
        self._feedback.poll(0)

    def _drain(self, stop: threading.Event, longest: float) -> None:
        """Send the labels still waiting (the last requests' feedback)."""
        deadline = time.monotonic() + longest + 1
        while self._pending and time.monotonic() < deadline and not stop.is_set():
            self._send_due_feedback()
            stop.wait(0.05)
        self._send_due_feedback()
