"""The topic catalog against the real broker."""

from __future__ import annotations

from confluent_kafka.admin import ConfigResource, NewTopic

from infra.kafka_clients import admin
from infra.topics import CATALOG, COMPACTED, create_topics, describe_topics


def test_create_is_idempotent_and_creates_every_catalog_topic(kafka_settings):
    client = admin(kafka_settings)
    first = create_topics(client, kafka_settings)
    assert {r.topic for r in first} == {kafka_settings.topic(s.name) for s in CATALOG}
    assert {r.status for r in first} == {"created"}
    second = create_topics(client, kafka_settings)
    assert {r.status for r in second} == {"exists"}


def test_compacted_topics_carry_settings_that_make_compaction_happen(kafka_topics):
    client = admin(kafka_topics)
    for name in ("profiles", "routing.weights"):
        resource = ConfigResource(ConfigResource.Type.TOPIC, kafka_topics.topic(name))
        live = client.describe_configs([resource])[resource].result()
        for key, value in COMPACTED.items():
            assert live[key].value == value, f"{name} {key}"
        assert live["cleanup.policy"].value == "compact"
    deleted = ConfigResource(ConfigResource.Type.TOPIC, kafka_topics.topic("inference.events"))
    assert client.describe_configs([deleted])[deleted].result()["cleanup.policy"].value == "delete"


def test_inference_and_feedback_are_co_partitioned(kafka_topics):
    live = describe_topics(admin(kafka_topics), kafka_topics)
    inference = live[kafka_topics.topic("inference.events")]["partitions"]
    assert inference == live[kafka_topics.topic("feedback.events")]["partitions"] == kafka_topics.topic_partitions


def test_an_existing_topic_with_different_config_is_reported(kafka_settings):
    client = admin(kafka_settings)
    wrong = NewTopic(kafka_settings.topic("profiles"), num_partitions=1, replication_factor=1, config={})
    client.create_topics([wrong])[kafka_settings.topic("profiles")].result()
    reports = {r.topic: r for r in create_topics(client, kafka_settings)}
    report = reports[kafka_settings.topic("profiles")]
    assert report.status == "differs"
    assert "partitions: live 1, catalog 2" in report.differences
    assert any(d.startswith("cleanup.policy: live 'delete', catalog 'compact'") for d in report.differences)
    assert reports[kafka_settings.topic("commands")].status == "created"
