"""Fixtures of the streams tests."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from infra.broker import EmbeddedBroker
from infra.config import Settings
from tests.conftest import free_port_pair


@pytest.fixture
def quiet_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A broker of this test's own (unless INSITU_KAFKA_BOOTSTRAP is set): the kill-and-restart
    rebalance is timed against a broker not carrying the rest of the suite's topics and groups."""
    external = os.environ.get("INSITU_KAFKA_BOOTSTRAP")
    if external:
        yield external
        return
    broker = EmbeddedBroker(Settings(data_dir=tmp_path_factory.mktemp("recovery-broker"), kafka_port=free_port_pair()))
    try:
        yield broker.start(timeout=120)
    finally:
        broker.stop()
