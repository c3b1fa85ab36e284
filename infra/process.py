"""What every insitu process does first: logging, its topics, and stopping on a signal."""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable, Sequence

from confluent_kafka import KafkaException
from confluent_kafka.admin import NewTopic

from infra.config import Settings
from infra.kafka_clients import admin, bootstrap_servers
from infra.topics import create_topics

log = logging.getLogger(__name__)
LOG_FORMAT = "[%(asctime)s] %(levelname)s %(name)s: %(message)s"


def configure_logging(level: str | int = "info") -> None:
    """One line per record, with time, level and logger; aiokafka's per-message debug lines stay off."""
    number = level if isinstance(level, int) else logging.getLevelName(level.upper())
    logging.basicConfig(level=number, format=LOG_FORMAT)
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, number))
    for name in ("faust", "mode"):  # they log every message at debug; building those records costs more than the work
        logging.getLogger(name).setLevel(max(logging.INFO, number))


def ensure_topics(settings: Settings, internal: Sequence[NewTopic] = ()) -> None:
    """Create the catalog topics and ``internal`` ones that are missing.

    No reachable broker is an error (``NoBrokerError``, before anything else runs); a failure
    to create topics is a warning: without the rights to create them they may exist anyway.
    """
    bootstrap_servers(settings)
    try:
        create_topics(admin(settings), settings, internal=internal)
    except (KafkaException, RuntimeError) as exc:
        log.warning("could not ensure the topics exist: %s", exc)


def stop_on_signals(stop: Callable[[], object]) -> None:
    """Call ``stop`` on SIGTERM or SIGINT (it must be safe from a signal handler)."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda _signum, _frame: stop())
