"""Property-based fuzzing of the input decoders: any bytes either decode to a record that fits, or are rejected."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas import Limits, Rejected, Serde, SerializationError
from schemas.deadletters import dead_letter
from tests.hostile import (
    INPUT_TOPICS,
    JOIN_TOPICS,
    SERDE,
    Input,
    bad_key,
    classify,
    deep,
    feedback,
    hostile,
    huge_field,
    inference,
    nested,
    too_many,
)

FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("topic", INPUT_TOPICS)
@given(data=st.binary(max_size=400))
@FUZZ
def test_any_bytes_decode_or_raise_a_serialization_error(topic: str, data: bytes) -> None:
    try:
        record = SERDE.decode(topic, data)
    except SerializationError as exc:
        assert exc.reason and exc.detail
        return
    SERDE.encode(topic, record)  # what decodes fits the schema


@pytest.mark.parametrize("topic", INPUT_TOPICS)
@given(data=st.data())
@FUZZ
def test_hostile_input_is_classified_and_never_raises_anything_else(topic: str, data: st.DataObject) -> None:
    item = data.draw(hostile(topic))
    reason = classify(item)
    if reason is None:  # a mutation that happened to stay valid
        SERDE.encode(topic, SERDE.decode(topic, item.value))
        return
    letter = dead_letter(
        topic=topic, partition=0, offset=1, key=item.key, value=item.value, reason=reason, detail="d", source="t"
    )
    SERDE.encode("deadletter", letter)  # its dead letter always fits
    assert len(letter["original_value"] or b"") <= 65_536 and letter["original_value_bytes"] == len(item.value)


@pytest.mark.parametrize("topic", INPUT_TOPICS)
@given(data=st.data())
@FUZZ
def test_oversized_fields_are_too_long_or_too_large(topic: str, data: st.DataObject) -> None:
    item = data.draw(huge_field(topic))
    expected = "too_large" if len(item.value) > Limits().message_bytes else "too_long"
    assert classify(item) == expected, item.kind


@pytest.mark.parametrize("topic", INPUT_TOPICS)
@given(data=st.data())
@FUZZ
def test_nesting_past_the_limit_is_too_deep(topic: str, data: st.DataObject) -> None:
    item = data.draw(deep(topic))
    expected = "too_large" if len(item.value) > Limits().message_bytes else "too_deep"
    if item.value.startswith(b"["):
        expected = "undecodable"  # not a JSON object: refused before it is parsed
    assert classify(item) == expected, item.kind


@pytest.mark.parametrize("topic", INPUT_TOPICS)
@given(data=st.data())
@settings(max_examples=10, deadline=None)
def test_maps_past_the_limit_are_too_many(topic: str, data: st.DataObject) -> None:
    item = data.draw(too_many(topic))
    expected = "too_large" if len(item.value) > Limits().message_bytes else "too_many"
    assert classify(item) == expected, item.kind


@pytest.mark.parametrize("topic", JOIN_TOPICS)
@given(data=st.data())
@settings(max_examples=30, deadline=None)
def test_join_input_keyed_otherwise_is_missing_key_or_key_mismatch(topic: str, data: st.DataObject) -> None:
    item = data.draw(bad_key(topic))
    assert classify(item) == ("missing_key" if item.key is None else "key_mismatch")


@pytest.mark.parametrize("depth", [9, 1_000, 100_000])
@pytest.mark.parametrize("topic", INPUT_TOPICS)
def test_deep_nesting_names_the_limit(topic: str, depth: int) -> None:
    with pytest.raises(SerializationError, match="INSITU_MAX_DEPTH") as info:
        SERDE.decode(topic, json.dumps({"request_id": "r"})[:-1].encode() + b',"x":' + nested(depth).encode() + b"}")
    assert info.value.reason == "too_deep"


def test_one_megabyte_instance_id_is_too_large_before_it_is_parsed() -> None:
    value = json.dumps(inference("r1", instance="i" * 1_000_000)).encode()
    with pytest.raises(SerializationError, match=r"1,000,\d+ bytes; the limit is 262,144") as info:
        SERDE.decode("inference.events", value, partition=3, offset=9)
    assert (info.value.reason, info.value.partition, info.value.offset) == ("too_large", 3, 9)


def test_avro_input_is_bounded_too() -> None:
    lenient = Serde(limits=Limits(id_chars=10_000))  # a producer that does not check
    data = lenient.encode_json("inference.events", inference("r1", instance="i" * 300))
    with pytest.raises(SerializationError, match="field 'instance_id' is 300 characters; the limit is 256") as info:
        SERDE.decode("inference.events", data)
    assert info.value.field == "instance_id"


def test_limits_come_from_the_settings() -> None:
    from infra.config import Settings

    serde = Serde.from_settings(Settings(max_id_chars=20, max_message_bytes=2048))
    assert serde.limits == Limits(message_bytes=2048, id_chars=20)
    with pytest.raises(Rejected, match="INSITU_MAX_ID_CHARS"):
        serde.decode("feedback.events", json.dumps(feedback("r" * 21)).encode())


def test_valid_input_passes_every_bound() -> None:
    assert classify(Input("inference.events", b"r1", json.dumps(inference("r1")).encode(), "valid")) is None
    assert classify(Input("feedback.events", b"r1", SERDE.encode_json("feedback.events", feedback("r1")), "v")) is None


def test_a_dead_letter_of_a_megabyte_keeps_its_length() -> None:
    letter = dead_letter(
        topic="t", partition=1, offset=2, key=b"k" * 100, value=b"v" * 1_000_000, reason="too_large",
        detail="x" * 10_000, source="s", max_bytes=1_000,
    )  # fmt: skip
    assert letter["original_value"] == b"v" * 1_000 and letter["original_value_bytes"] == 1_000_000
    assert letter["original_key_bytes"] == 100 and len(letter["detail"]) < 2_100
    assert len(SERDE.encode("deadletter", letter)) < 4_000
