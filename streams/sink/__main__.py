"""``python -m streams.sink``: run the analytics sink until SIGTERM or SIGINT, then flush, commit and exit."""

from __future__ import annotations

import logging
import sys

from pydantic import ValidationError

from infra.kafka_clients import NoBrokerError
from infra.process import configure_logging, ensure_topics, stop_on_signals
from streams.sink.config import SinkSettings
from streams.sink.runner import SinkRunner, lag_sender

log = logging.getLogger("streams.sink")


def main() -> int:
    configure_logging("info")
    try:
        settings = SinkSettings()
    except ValidationError as exc:
        print(f"streams.sink: invalid configuration:\n{exc}", file=sys.stderr)
        return 2
    try:
        ensure_topics(settings)  # a subscription to a missing topic would wait
    except NoBrokerError as exc:
        print(f"streams.sink: {exc}", file=sys.stderr)
        return 1
    runner = SinkRunner(settings, lag_sender=lag_sender(settings))
    stop_on_signals(runner.stop)
    return runner.run()


if __name__ == "__main__":
    sys.exit(main())
