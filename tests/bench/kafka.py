"""The broker a benchmark section runs against: ``INSITU_KAFKA_BOOTSTRAP``, the caller's, or an embedded one."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from infra.broker import EmbeddedBroker
from infra.config import Settings
from tests.conftest import free_port_pair


@contextmanager
def bootstrap(data: Path, settings: Settings | None = None) -> Iterator[str]:
    """Yield bootstrap servers; an embedded broker (its data under ``data``) is started and stopped here."""
    external = os.environ.get("INSITU_KAFKA_BOOTSTRAP") or (settings.kafka_bootstrap if settings else None)
    if external:
        yield external
        return
    broker = EmbeddedBroker(Settings(data_dir=data / "broker", kafka_port=free_port_pair()))
    try:
        yield broker.start()
    finally:
        broker.stop()
