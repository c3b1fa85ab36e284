"""The embedded broker: format once, start, answer, stop, restart with data intact."""

from __future__ import annotations

import socket
import time

import pytest
from confluent_kafka import Producer

from infra.broker import BrokerError, EmbeddedBroker
from infra.config import Settings
from infra.kafka_clients import NoBrokerError, admin, bootstrap_servers
from infra.topics import create_topics, describe_topics
from tests.conftest import first_message, free_port_pair, free_ports


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


def test_a_three_broker_cluster_replicates_and_keeps_taking_writes_with_one_broker_killed(tmp_path):
    port = free_ports(6)
    settings = Settings(data_dir=tmp_path, kafka_port=port, topic_partitions=2)
    broker = EmbeddedBroker(settings, brokers=3)
    bootstrap = broker.start(timeout=180)
    try:
        assert bootstrap == f"127.0.0.1:{port},127.0.0.1:{port + 2},127.0.0.1:{port + 4}"
        again = EmbeddedBroker(settings)  # as `insitu kafka status` and `stop` see it: every node
        assert [n.port for n in again.nodes] == [port, port + 2, port + 4] and again.status().answering
        assert bootstrap_servers(settings) == bootstrap
        with pytest.raises(BrokerError, match="has 3 broker"):
            EmbeddedBroker(settings, brokers=1)
        create_topics(admin(settings), settings)
        topic = settings.topic("feedback.events")
        partitions = admin(settings).list_topics(timeout=30).topics[topic].partitions.values()
        assert sorted(len(p.replicas) for p in partitions) == [3, 3]
        deadline = time.monotonic() + 30
        while topic not in (live := describe_topics(admin(settings), settings)):  # each node learns of it in turn
            assert time.monotonic() < deadline, f"{topic} never described"
            time.sleep(0.2)
        assert live[topic]["config"]["min.insync.replicas"] == "2"

        assert broker.nodes[2].stop(kill=True) is True
        assert not again.status().answering
        producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True})
        for i in range(20):
            producer.produce(topic, key=str(i).encode(), value=b"two of three")
        assert producer.flush(90) == 0, "writes with acks=all stalled with two of three brokers"
        assert broker.start(timeout=120) == bootstrap  # starts the killed node only
        assert [s.answering for s in again.node_statuses()] == [True, True, True]
    finally:
        assert broker.stop() is True
    assert not any(s.running for s in again.node_statuses())


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
