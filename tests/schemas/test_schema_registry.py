"""The Schema Registry path against a real registry (Apicurio Registry's Confluent-compatible API)."""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient

from schemas import ConfluentRegistry, SchemaCatalog, Serde, SerializationError
from tests.conftest import free_port_pair
from tests.infra.app.test_cli_produce_consume import consume_all, run_cli
from tests.samples import SAMPLES
from tests.schema_registry import ApicurioRegistry


@pytest.fixture(scope="module")
def registry_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with ApicurioRegistry(free_port_pair(), tmp_path_factory.mktemp("registry") / "registry.log") as registry:
        yield registry.url


def test_writers_register_their_schema_and_readers_fetch_it_by_id(registry_url):
    writer = Serde(ConfluentRegistry.from_url(registry_url), topic_prefix="sr.")
    data = writer.encode_json("feedback.events", SAMPLES["feedback.events"])
    magic, schema_id = struct.unpack(">bI", data[:5])
    latest = SchemaRegistryClient({"url": registry_url}).get_latest_version("sr.feedback.events-value")
    assert magic == 0 and schema_id == latest.schema_id
    catalog = json.loads(SchemaCatalog.load().latest("feedback.events").canonical)
    assert json.loads(latest.schema.schema_str)["name"] == catalog["name"]
    again = Serde(ConfluentRegistry.from_url(registry_url), topic_prefix="sr.")  # another process, empty caches
    assert again.encode_json("feedback.events", SAMPLES["feedback.events"])[:5] == data[:5]
    reader = Serde(ConfluentRegistry.from_url(registry_url))
    assert reader.decode("feedback.events", data)["label"] == SAMPLES["feedback.events"]["label"]
    with pytest.raises(SerializationError, match="could not be fetched from the Schema Registry"):
        reader.decode("feedback.events", b"\x00" + struct.pack(">I", 987_654) + data[5:])


def test_the_cli_produces_and_consumes_through_the_registry(registry_url, cli_env, monkeypatch, capsys):
    monkeypatch.setenv("INSITU_SCHEMA_REGISTRY_URL", registry_url)
    topic = "inference.events"
    code, _, err = run_cli(monkeypatch, capsys, ["produce", topic], json.dumps(SAMPLES[topic]) + "\n")
    assert code == 0, err
    records, _ = consume_all(monkeypatch, capsys, topic)
    assert [r["request_id"] for r in records] == [SAMPLES[topic]["request_id"]]
    subject = f"{cli_env.topic_prefix}{topic}-value"
    assert subject in SchemaRegistryClient({"url": registry_url}).get_subjects()
