"""The embedded broker: format once, start, answer, stop, restart with data intact."""

from __future__ import annotations

import socket

import pytest
from confluent_kafka import Producer

from infra.broker import BrokerError, EmbeddedBroker
from infra.config import Settings
from infra.kafka_clients import NoBrokerError, admin, bootstrap_servers
from infra.topics import create_topics
from tests.conftest import first_message, free_port_pair


def test_a_broker_formats_once_and_keeps_its_data_across_restarts(tmp_path):
    settings = Settings(data_dir=tmp_path, kafka_port=free_port_pair(), topic_partitions=1)
    broker = EmbeddedBroker(settings)
    assert broker.status().running is False
    bootstrap = broker.start(timeout=120)
    try:
        assert (tmp_path / "kafka" / "data" / "meta.properties").exists()
        assert broker.status().answering
        assert broker.start() == bootstrap, "starting a running broker returns it"
        assert bootstrap_servers(settings) == bootstrap
        create_topics(admin(settings), settings)
        producer = Producer({"bootstrap.servers": bootstrap})
        producer.produce("feedback.events", key=b"k", value=b"kept")
        assert producer.flush(30) == 0
    finally:
        assert broker.stop() is True
    assert broker.status().running is False
    assert broker.stop() is False

    broker.start(timeout=120)
    try:
        message = first_message(bootstrap, "feedback.events", "restart")
        assert message is not None and message.value() == b"kept"
    finally:
        broker.stop()


def test_a_taken_port_is_a_clear_error(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        broker = EmbeddedBroker(Settings(data_dir=tmp_path, kafka_port=port))
        with pytest.raises(BrokerError, match=f"port {port} is in use"):
            broker.start()


def test_no_broker_and_no_bootstrap_is_a_clear_error(tmp_path):
    with pytest.raises(NoBrokerError, match="insitu kafka start"):
        bootstrap_servers(Settings(data_dir=tmp_path))


def test_an_external_bootstrap_is_used_as_is(tmp_path):
    assert bootstrap_servers(Settings(data_dir=tmp_path, kafka_bootstrap="kafka-1:9092")) == "kafka-1:9092"
