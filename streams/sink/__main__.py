"""``python -m streams.sink``: run the analytics sink until SIGTERM or SIGINT, then flush, commit and exit."""

from __future__ import annotations

import logging
import signal
import sys

from confluent_kafka import KafkaException
from pydantic import ValidationError

from infra.kafka_clients import NoBrokerError, admin
from infra.topics import create_topics
from streams.sink.config import SinkSettings
from streams.sink.runner import SinkRunner

log = logging.getLogger("streams.sink")


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s] %(levelname)s %(name)s: %(message)s")
    try:
        settings = SinkSettings()
    except ValidationError as exc:
        print(f"streams.sink: invalid configuration:\n{exc}", file=sys.stderr)
        return 2
    try:
        create_topics(admin(settings), settings)  # idempotent; a subscription to a missing topic would wait
    except NoBrokerError as exc:
        print(f"streams.sink: {exc}", file=sys.stderr)
        return 1
    except (KafkaException, RuntimeError) as exc:  # e.g. no rights to create topics: they may exist anyway
        log.warning("could not ensure the topics exist: %s", exc)
    runner = SinkRunner(settings)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda _signum, _frame: runner.stop())
    return runner.run()


if __name__ == "__main__":
    sys.exit(main())
