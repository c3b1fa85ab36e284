"""The router's outputs, produced with an idempotent acks=all producer and waited for.

``routing.weights``, ``model.versions``, ``command.results`` and the router's dead letters
go through ``infra.kafka_clients.producer`` (idempotence on, acks=all), not through the
Faust app's producer, which is neither idempotent nor awaited under at-least-once
processing. ``deliver`` returns only when every record is acknowledged, so the agent can
commit its state after it (see ``streams.router.staged``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from confluent_kafka import KafkaError, KafkaException

from infra.kafka_clients import LazyProducer

log = logging.getLogger(__name__)
Record = tuple[str, bytes | None, bytes | None]  # (physical topic, key, value)


class DeliveryError(RuntimeError):
    """A record the broker refused for good (not a timeout: those are retried)."""


class Outputs:
    """A lazily created idempotent producer; ``deliver`` waits for acknowledgement."""

    def __init__(self, settings: Any, *, flush_timeout: float = 30.0) -> None:
        self._flush_timeout = flush_timeout
        self._producer = LazyProducer(settings, **{"linger.ms": 0})

    async def deliver(self, records: list[Record]) -> None:
        """Produce ``records`` in order and wait until all are acknowledged (retrying while the broker is away)."""
        if not records:
            return
        kafka = self._producer.get()
        errors: list[tuple[str, KafkaError]] = []

        def delivered(error: KafkaError | None, message: Any) -> None:
            if error is not None:
                errors.append((message.topic(), error))

        for topic, key, value in records:
            kafka.produce(topic, key=key, value=value, on_delivery=delivered)
        loop = asyncio.get_running_loop()
        while (left := await loop.run_in_executor(None, kafka.flush, self._flush_timeout)) > 0:
            log.warning("%d router output(s) not acknowledged after %.0fs; still waiting", left, self._flush_timeout)
        if errors:
            topic, error = errors[0]
            msg = f"{len(errors)} router output(s) not delivered; first to {topic}: {error}"
            raise DeliveryError(msg) from KafkaException(error)
