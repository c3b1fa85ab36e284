"""``python -m streams.worker [LOGLEVEL] [--agents join,metrics,...]``: run one streams worker.

Start more copies to scale out: they share a consumer group and Kafka splits the partitions.
``--agents`` runs only some groups of agents (by default a worker runs them all); every copy
sharing a topic prefix must run the same groups, since they are one consumer group.
"""

from __future__ import annotations

import argparse
import os
import sys

import faust
import mode.loop

from infra.kafka_clients import admin
from infra.process import configure_logging, ensure_topics
from infra.topics import replication
from streams.agents import GROUPS, register
from streams.config import StreamSettings
from streams.internal import internal_topics


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m streams.worker", description=__doc__.splitlines()[0])
    parser.add_argument("loglevel", nargs="?", default="warning", help="debug, info, warning (default), error")
    parser.add_argument(
        "--agents",
        default=",".join(GROUPS),
        help=f"comma-separated groups of agents to run (default: {','.join(GROUPS)})",
    )
    args = parser.parse_args(argv)
    groups = [g.strip() for g in args.agents.split(",") if g.strip()]
    unknown = sorted(set(groups) - set(GROUPS))
    if unknown:
        parser.error(f"unknown agent group(s) {unknown}; known: {', '.join(GROUPS)}")
    settings = StreamSettings()
    ensure_topics(settings, internal_topics(settings))  # no broker: a clear error now rather than Faust retrying
    if settings.topic_replication is None:  # the tables' changelogs are replicated like the other topics
        brokers = len(admin(settings).list_topics(timeout=30).brokers)
        os.environ["INSITU_TOPIC_REPLICATION"] = str(replication(settings, brokers)[0])
    (settings.data_dir / "streams" / settings.app_id).mkdir(parents=True, exist_ok=True)
    mode.loop.use("uvloop")  # before the app makes its loop: Faust spends most of its time in the event loop
    register(groups)
    from streams.app import app

    configure_logging(args.loglevel)
    worker = faust.Worker(app, loglevel=args.loglevel, quiet=True, redirect_stdouts=False)
    worker.execute_from_commandline()
    return 0


if __name__ == "__main__":
    sys.exit(main())
