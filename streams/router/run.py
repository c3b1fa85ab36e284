"""``python -m streams.router.run``: a streams worker with only the router's agents.

Creates the catalog topics and the router's input topic, then runs Faust. ``streams.worker``
will run the router with every other agent once ``streams.agents`` imports
``streams.router.agent`` (and it creates ``streams.router.internal.internal_topics``).
"""

from __future__ import annotations

import logging
import sys

import faust
from confluent_kafka import KafkaException

from infra.kafka_clients import admin, bootstrap_servers
from infra.topics import create_topics
from streams.config import StreamSettings
from streams.router.internal import internal_topics


def prepare(settings: StreamSettings) -> None:
    """Every topic the router reads or writes exists before Faust starts."""
    bootstrap_servers(settings)  # a clear error now rather than Faust retrying forever
    client = admin(settings)
    create_topics(client, settings)
    for name, future in client.create_topics(internal_topics(settings)).items():
        try:
            future.result()
        except KafkaException as exc:
            if exc.args[0].name() != "TOPIC_ALREADY_EXISTS":
                msg = f"creating internal topic {name} failed: {exc.args[0].str()}"
                raise RuntimeError(msg) from exc
    (settings.data_dir / "streams" / settings.app_id).mkdir(parents=True, exist_ok=True)


def main(loglevel: str = "warning") -> int:
    prepare(StreamSettings())
    import streams.router.agent  # noqa: F401  (registers the agents)
    from streams.app import app

    logging.basicConfig(level=loglevel.upper(), format="[%(asctime)s] %(levelname)s %(name)s: %(message)s")
    worker = faust.Worker(app, loglevel=loglevel, quiet=True, redirect_stdouts=False)
    worker.execute_from_commandline()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "warning"))
