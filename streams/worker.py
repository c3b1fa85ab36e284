"""``python -m streams.worker``: run one streams worker (start more to scale out; Kafka splits the partitions)."""

from __future__ import annotations

import logging
import sys

import faust

from infra.kafka_clients import admin, bootstrap_servers
from infra.topics import create_topics
from streams.config import StreamSettings


def main(loglevel: str = "warning") -> int:
    settings = StreamSettings()
    bootstrap_servers(settings)  # a clear error now rather than Faust retrying forever
    create_topics(admin(settings), settings)
    (settings.data_dir / "streams" / settings.app_id).mkdir(parents=True, exist_ok=True)
    import streams.agents  # noqa: F401  (registers the agents)
    from streams.app import app

    logging.basicConfig(level=loglevel.upper(), format="[%(asctime)s] %(levelname)s %(name)s: %(message)s")
    worker = faust.Worker(app, loglevel=loglevel, quiet=True, redirect_stdouts=False)
    worker.execute_from_commandline()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "warning"))
