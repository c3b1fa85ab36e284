"""The reference gateway: routes a request by the router's weights, answers it with a hosted
registry model, and produces its inference event. Usage::

    with ReferenceGateway(Settings(), registry) as gateway:
        instance, version, label, probabilities = gateway.predict("credit", "req-1", {"age": 31.0}, {})
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from typing import Any

from infra.config import Settings
from infra.gateway.hosted import HostedModels, ModelSource
from infra.gateway.routing_table import RoutingTable
from infra.kafka_clients import producer
from schemas import Serde

log = logging.getLogger(__name__)
TOPIC = "inference.events"


class ReferenceGateway:
    """``predict(route, request_id, features, attributes)`` -> ``(instance, version, prediction, probabilities)``.

    ``start()`` reads the routing weights to their end and loads every hosted version they
    name before it returns; ``close()`` flushes the events. ``instances`` limits what this
    gateway hosts (default: every instance the weights name).
    """

    def __init__(
        self,
        settings: Settings,
        registry: ModelSource,
        *,
        instances: Collection[str] | None = None,
        table: RoutingTable | None = None,
    ) -> None:
        self._settings = settings
        self._serde = Serde.from_settings(settings)
        self.table = table or RoutingTable(settings, serde=self._serde)
        self.models = HostedModels(registry, instances=instances)
        self._producer: Any = None
        self._topic = settings.topic(TOPIC)
        self._lock = threading.Lock()
        self.failed_deliveries = 0

    def start(self, timeout: float = 60.0) -> ReferenceGateway:
        self.table.start(timeout=timeout)
        self.models.follow(self.table)
        if not self.models.wait_idle(timeout):
            log.warning("some models were still loading after %.0fs; their previous versions answer", timeout)
        self._producer = producer(self._settings)
        return self

    def predict(
        self,
        route: str,
        request_id: str,
        features: Mapping[str, float],
        attributes: Mapping[str, str] | None = None,
    ) -> tuple[str, int, str, dict[str, float]]:
        """Answer one request and produce its inference event (keyed by ``request_id``)."""
        if self._producer is None:
            msg = "ReferenceGateway.predict before start()"
            raise RuntimeError(msg)
        clean = _finite(features, request_id)
        attributes = dict(attributes or {})
        target = self.table.choose(route)
        version, model = self.models.get(target.instance_id, target.version)
        prediction, probabilities = model.predict(clean, attributes)
        event = {
            "request_id": request_id,
            "route": route,
            "instance_id": target.instance_id,
            "model_version": version,
            "ts": datetime.now(UTC),
            "features": clean,
            "attributes": attributes,
            "prediction": prediction,
            "probabilities": probabilities,
        }
        value = self._serde.encode(TOPIC, event)
        with self._lock:
            self._producer.produce(
                self._topic, key=request_id.encode("utf-8"), value=value, on_delivery=self._delivered
            )
            self._producer.poll(0)
        return target.instance_id, version, prediction, probabilities

    def flush(self, timeout: float = 30.0) -> int:
        """Wait for produced events; returns how many are still undelivered."""
        return 0 if self._producer is None else int(self._producer.flush(timeout))

    def close(self) -> None:
        left = self.flush()
        if left:
            log.warning("%d inference event(s) not delivered at close", left)
        self.table.close()
        self.models.close()

    def __enter__(self) -> ReferenceGateway:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _delivered(self, error: Any, message: Any) -> None:
        if error is not None:
            self.failed_deliveries += 1
            log.error("inference event %s not delivered to %s: %s", message.key(), self._topic, error)


def _finite(features: Mapping[str, float], request_id: str) -> dict[str, float]:
    out = {}
    for name, value in features.items():
        number = float(value)
        if not math.isfinite(number):
            msg = f"request {request_id}: feature {name!r} is {number}; features must be finite numbers"
            raise ValueError(msg)
        out[name] = number
    return out
