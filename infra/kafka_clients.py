"""confluent-kafka client configs from Settings; where the bootstrap servers come from."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient

from infra.broker import EmbeddedBroker
from infra.config import Settings
from schemas import Serde


class NoBrokerError(RuntimeError):
    """Neither an external cluster is configured nor the embedded broker is running."""


def bootstrap_servers(settings: Settings) -> str:
    """INSITU_KAFKA_BOOTSTRAP, else the running embedded broker's address."""
    if settings.kafka_bootstrap:
        return settings.kafka_bootstrap
    address = EmbeddedBroker(settings).running_bootstrap()
    if address is None:
        msg = (
            f"no Kafka broker: set INSITU_KAFKA_BOOTSTRAP or start the embedded one with "
            f"`insitu kafka start` (data dir {settings.data_dir})"
        )
        raise NoBrokerError(msg)
    return address


def client_config(settings: Settings, **overrides: Any) -> dict[str, Any]:
    """Base librdkafka config: bootstrap plus security settings plus ``overrides``."""
    config = {"bootstrap.servers": bootstrap_servers(settings), **settings.kafka_security}
    config.update(overrides)
    return config


def producer(settings: Settings, **overrides: Any) -> Producer:
    """An idempotent producer with acks=all: no duplicates or reordering on retries.

    Keys are partitioned with murmur2, as Java clients and the streams worker do, so
    inference and feedback events for one request id land in the same partition
    whichever client produced them.
    """
    defaults = {
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        "compression.type": "lz4",
        "partitioner": "murmur2_random",
    }
    return Producer(client_config(settings, **{**defaults, **overrides}))


class LazyProducer:
    """A ``producer`` made on first use: a component can hold one from import or construction time
    and still connect only once it runs (inside a worker's process, with its broker up)."""

    def __init__(self, settings: Settings, **overrides: Any) -> None:
        self._settings = settings
        self._overrides = overrides
        self._producer: Producer | None = None

    def get(self) -> Producer:
        if self._producer is None:
            self._producer = producer(self._settings, **self._overrides)
        return self._producer

    def produce_records(self, serde: Serde, topic: str, records: Iterable[Mapping[str, Any]], key: str) -> None:
        """Encode each record for catalog ``topic`` and produce it keyed by its field ``key`` (not waited for)."""
        kafka = self.get()
        for record in records:
            kafka.produce(self._settings.topic(topic), key=str(record[key]).encode(), value=serde.encode(topic, record))
        kafka.poll(0)


def consumer(settings: Settings, group_id: str, **overrides: Any) -> Consumer:
    """A consumer that commits only what the caller says it has processed."""
    defaults = {
        "group.id": group_id,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "isolation.level": "read_committed",
    }
    return Consumer(client_config(settings, **{**defaults, **overrides}))


def admin(settings: Settings) -> AdminClient:
    # log_level 5 hides the informational "purging unserved events" line printed at close.
    return AdminClient(client_config(settings, log_level=5))
