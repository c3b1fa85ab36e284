"""Shared fixtures: one real Kafka broker per test session, unique topics per test."""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Message

from infra.broker import EmbeddedBroker
from infra.config import Settings
from infra.kafka_clients import admin
from infra.topics import create_topics


def free_port_pair() -> int:
    """A port p such that p and p+1 are both free on 127.0.0.1."""
    return free_ports(2)


def free_ports(count: int) -> int:
    """A port p such that p .. p+count-1 are all free on 127.0.0.1."""
    for _ in range(50):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port + count > 65000:
            continue
        taken = False
        for other in range(port + 1, port + count):
            with socket.socket() as probe:
                try:
                    probe.bind(("127.0.0.1", other))
                except OSError:
                    taken = True
                    break
        if not taken:
            return port
    msg = f"no {count} consecutive free ports found"
    raise RuntimeError(msg)


def first_message(bootstrap: str, topic: str, group: str, timeout: float = 60.0) -> Message | None:
    """The first message a plain subscribed consumer reads from ``topic`` within ``timeout`` seconds."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = consumer.poll(1.0)
            if message is not None and message.error() is None:
                return message
        return None
    finally:
        consumer.close()


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """INSITU_KAFKA_BOOTSTRAP if set, else a real embedded broker started once for the session."""
    external = os.environ.get("INSITU_KAFKA_BOOTSTRAP")
    if external:
        yield external
        return
    settings = Settings(data_dir=tmp_path_factory.mktemp("broker"), kafka_port=free_port_pair())
    broker = EmbeddedBroker(settings)
    bootstrap = broker.start(timeout=120)
    try:
        yield bootstrap
    finally:
        broker.stop()


@pytest.fixture
def kafka_settings(kafka_bootstrap: str, tmp_path: Path) -> Settings:
    """Settings for one test: the session broker and a topic prefix of its own."""
    return Settings(
        data_dir=tmp_path,
        kafka_bootstrap=kafka_bootstrap,
        topic_prefix=f"t{uuid.uuid4().hex[:10]}.",
        topic_partitions=2,
    )


@pytest.fixture
def kafka_topics(kafka_settings: Settings) -> Settings:
    """``kafka_settings`` with every catalog topic created under the test's prefix."""
    create_topics(admin(kafka_settings), kafka_settings)
    return kafka_settings


@pytest.fixture
def cli_env(kafka_topics: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The environment the ``insitu`` CLI reads, pointing at this test's topics."""
    monkeypatch.setenv("INSITU_KAFKA_BOOTSTRAP", kafka_topics.kafka_bootstrap or "")
    monkeypatch.setenv("INSITU_TOPIC_PREFIX", kafka_topics.topic_prefix)
    monkeypatch.setenv("INSITU_TOPIC_PARTITIONS", str(kafka_topics.topic_partitions))
    monkeypatch.setenv("INSITU_DATA_DIR", str(kafka_topics.data_dir))
    return kafka_topics
