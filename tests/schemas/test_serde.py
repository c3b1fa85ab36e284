"""Wire format, JSON input and error handling of the serde."""

from __future__ import annotations

import io
import json
import struct
from datetime import UTC, datetime

import fastavro
import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient

from schemas import ConfluentRegistry, SchemaCatalog, Serde, SerializationError
from schemas.catalog import SCHEMA_DIR
from tests.samples import SAMPLES


@pytest.fixture(scope="module")
def serde() -> Serde:
    return Serde()


@pytest.mark.parametrize("topic", sorted(SAMPLES))
def test_every_topic_round_trips(serde, topic):
    record = serde.from_json(topic, SAMPLES[topic])
    assert serde.decode(topic, serde.encode(topic, record)) == record


def test_frame_is_magic_byte_then_big_endian_schema_id(serde):
    data = serde.encode_json("feedback.events", SAMPLES["feedback.events"])
    magic, schema_id = struct.unpack(">bI", data[:5])
    assert magic == 0
    assert schema_id == SchemaCatalog.load().latest("feedback.events").id


def test_bytes_from_a_plain_fastavro_writer_decode(serde):
    """Any client with the .avsc file and the wire format interoperates."""
    raw = json.loads((SCHEMA_DIR / "feedback.events.v1.avsc").read_text())
    schema_id = SchemaCatalog.load().latest("feedback.events").id
    buf = io.BytesIO()
    buf.write(struct.pack(">bI", 0, schema_id))
    fastavro.schemaless_writer(buf, fastavro.parse_schema(raw), {"request_id": "x", "label": "y", "ts": 1000})
    decoded = serde.decode("feedback.events", buf.getvalue())
    assert decoded == {"request_id": "x", "label": "y", "ts": datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC)}


@pytest.mark.parametrize("ts", ["2026-11-24T10:00:00Z", "2026-11-24T11:00:00+01:00", 1795514400000])
def test_json_timestamps_accept_iso_8601_and_epoch_millis(serde, ts):
    record = serde.from_json("feedback.events", {"request_id": "r", "label": "l", "ts": ts})
    assert record["ts"] == datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "field", "problem"),
    [
        ({"request_id": "r", "label": "l", "ts": "2026-11-24T10:00:00"}, "ts", "no timezone"),
        ({"request_id": "r", "label": "l", "ts": "yesterday"}, "ts", "not an ISO-8601 timestamp"),
        ({"request_id": "r", "label": 7, "ts": 0}, "label", "expected a string, got int 7"),
        ({"request_id": "r", "ts": 0}, "label", "required field is missing"),
        ({"request_id": "r", "label": "l", "ts": 0, "extra": 1}, None, "unknown field(s) ['extra']"),
        ({"request_id": "r", "label": "l", "ts": True}, "ts", "expected an integer"),
    ],
)
def test_invalid_json_names_the_field_and_the_problem(serde, value, field, problem):
    with pytest.raises(SerializationError) as err:
        serde.from_json("feedback.events", value)
    assert err.value.field == field
    assert err.value.reason == "schema_violation"
    assert problem in str(err.value)
    assert err.value.topic == "feedback.events"


def test_nested_paths_are_named(serde):
    bad = dict(SAMPLES["inference.events"], features={"age": "old"})
    with pytest.raises(SerializationError, match=r"field 'features\.age': expected a number, got str 'old'"):
        serde.from_json("inference.events", bad)
    bad = json.loads(json.dumps(SAMPLES["routing.weights"]))
    bad["weights"][1]["weight"] = None
    with pytest.raises(SerializationError, match=r"field 'weights\[1\]\.weight'"):
        serde.from_json("routing.weights", bad)


def test_enum_values_are_checked(serde):
    bad = dict(SAMPLES["commands"], action="explode")
    with pytest.raises(SerializationError, match="expected one of"):
        serde.from_json("commands", bad)


def test_json_values_on_input_topics_decode_like_avro(serde):
    data = json.dumps(SAMPLES["inference.events"]).encode()
    assert serde.decode("inference.events", data) == serde.decode(
        "inference.events", serde.encode_json("inference.events", SAMPLES["inference.events"])
    )


@pytest.mark.parametrize(
    ("topic", "data", "needle"),
    [
        ("inference.events", b"", "empty value"),
        ("inference.events", b"\x00\x00\x00", "shorter than the 5-byte"),
        ("inference.events", b"\x07garbage", "first byte is 0x07"),
        ("inference.events", b"\x00\x00\x00\x03\xe7abc", "schema id 999 is not in the embedded registry"),
        ("inference.events", b'{"request_id": ', "invalid JSON"),
        ("inference.events", b"\xff\xfe{", "first byte is 0xff"),
        ("joined.events", b'{"request_id": "r"}', "expected Confluent-framed Avro; first byte"),
    ],
)
def test_undecodable_bytes_raise_serialization_error_with_position(serde, topic, data, needle):
    with pytest.raises(SerializationError) as err:
        serde.decode(topic, data, partition=3, offset=42)
    assert needle in str(err.value)
    assert (err.value.topic, err.value.partition, err.value.offset) == (topic, 3, 42)
    assert "topic=" + topic in str(err.value) and "offset=42" in str(err.value)


def test_truncated_and_padded_bodies_are_rejected(serde):
    data = serde.encode_json("inference.events", SAMPLES["inference.events"])
    with pytest.raises(SerializationError, match="does not decode"):
        serde.decode("inference.events", data[:-4])
    with pytest.raises(SerializationError, match="trailing bytes"):
        serde.decode("inference.events", data + b"\x00\x00")


def test_encode_rejects_records_that_do_not_fit(serde):
    with pytest.raises(SerializationError, match=r"does not fit the feedback\.events schema"):
        serde.encode("feedback.events", {"request_id": "r", "label": None, "ts": 0})


def test_schema_registry_ids_are_used_when_configured():
    client = SchemaRegistryClient.new_client({"url": "mock://insitu-test"})
    serde = Serde(ConfluentRegistry(client), topic_prefix="prod.")
    data = serde.encode_json("feedback.events", SAMPLES["feedback.events"])
    registered = client.get_latest_version("prod.feedback.events-value")
    assert struct.unpack(">bI", data[:5])[1] == registered.schema_id
    # A second process with a fresh cache fetches the writer schema by id.
    assert Serde(ConfluentRegistry(client)).decode("feedback.events", data)["label"] == "deny"


def test_schema_registry_unknown_id_is_a_serialization_error():
    serde = Serde(ConfluentRegistry(SchemaRegistryClient.new_client({"url": "mock://insitu-test-2"})))
    with pytest.raises(SerializationError, match="could not be fetched from the Schema Registry"):
        serde.decode("feedback.events", b"\x00\x00\x00\x30\x39abc")
