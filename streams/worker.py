"""``python -m streams.worker``: run one streams worker (start more to scale out; Kafka splits the partitions)."""

from __future__ import annotations

import logging
import sys

import faust
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from infra.kafka_clients import admin, bootstrap_servers
from infra.topics import create_topics
from streams.config import StreamSettings

HOUR_MS = 3_600_000


def internal_topics(settings: StreamSettings) -> list[NewTopic]:
    """Topics only the streams worker uses, co-partitioned with the input topics."""
    partitions, replication = settings.topic_partitions, settings.topic_replication
    return [
        NewTopic(f"{settings.app_id}-join-ticks", partitions, replication, config={"retention.ms": str(HOUR_MS)}),
        NewTopic(f"{settings.app_id}-unlabelled", partitions, replication, config={"retention.ms": str(168 * HOUR_MS)}),
        NewTopic(
            f"{settings.app_id}-profile-input", partitions, replication, config={"retention.ms": str(24 * HOUR_MS)}
        ),
    ]


def create_internal_topics(client: AdminClient, settings: StreamSettings) -> None:
    from streams.router.internal import internal_topics as router_topics

    for name, future in client.create_topics(internal_topics(settings) + router_topics(settings)).items():
        try:
            future.result()
        except KafkaException as exc:
            if exc.args[0].name() != "TOPIC_ALREADY_EXISTS":
                msg = f"creating internal topic {name} failed: {exc.args[0].str()}"
                raise RuntimeError(msg) from exc


def main(loglevel: str = "warning") -> int:
    settings = StreamSettings()
    bootstrap_servers(settings)  # a clear error now rather than Faust retrying forever
    client = admin(settings)
    create_topics(client, settings)
    create_internal_topics(client, settings)
    (settings.data_dir / "streams" / settings.app_id).mkdir(parents=True, exist_ok=True)
    import streams.agents  # noqa: F401  (registers the agents)
    from streams.app import app

    logging.basicConfig(level=loglevel.upper(), format="[%(asctime)s] %(levelname)s %(name)s: %(message)s")
    # aiokafka and faust log every message at debug; building those records costs more than the join.
    level = logging.getLevelName(loglevel.upper())
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, level))
    for name in ("faust", "mode"):
        logging.getLogger(name).setLevel(max(logging.INFO, level))
    worker = faust.Worker(app, loglevel=loglevel, quiet=True, redirect_stdouts=False)
    worker.execute_from_commandline()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "warning"))
