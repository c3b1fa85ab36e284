"""Hostile input for the input topics, as hypothesis strategies: what a buggy or malicious service sends.

Each strategy draws an ``Input`` (topic, key, value and what was done to it). The unit tests run
the decoders on them; the broker test and ``python -m tests.bench.fuzz`` send them to a real
worker, interleaved with valid pairs. ``classify`` says what insitu must do with one input:
the dead-letter reason it gets, or None when it is valid.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from infra.config import Settings
from infra.kafka_clients import producer
from schemas import Limits, Rejected, Serde
from schemas.limits import ID_FIELDS
from streams.routes import RouteCatalog
from streams.validation import check_feedback, check_inference, check_key

INPUT_TOPICS = ("inference.events", "feedback.events", "commands")
JOIN_TOPICS = ("inference.events", "feedback.events")
STRING_FIELDS = {
    "inference.events": ("request_id", "route", "instance_id", "prediction"),
    "feedback.events": ("request_id", "label"),
    "commands": ("command_id", "issuer", "key_id", "signature", "reason"),
}
SERDE = Serde()
LIMITS = Limits()
ROUTES = RouteCatalog(None)


@dataclass(frozen=True)
class Input:
    """One message for an input topic; ``kind`` names how it was made (for reports)."""

    topic: str
    key: bytes | None
    value: bytes
    kind: str


def inference(request_id: str, *, instance: str = "fuzz-a", route: str = "fuzz", **changes: Any) -> dict[str, Any]:
    """A valid inference record (JSON form)."""
    record = {
        "request_id": request_id,
        "route": route,
        "instance_id": instance,
        "model_version": 1,
        "ts": int(datetime.now(UTC).timestamp() * 1000),
        "features": {"x": 0.5, "y": 1.5},
        "attributes": {"region": "north"},
        "prediction": "yes",
        "probabilities": {"yes": 0.7, "no": 0.3},
    }
    return record | changes


def feedback(request_id: str, label: str = "yes") -> dict[str, Any]:
    """A valid feedback record (JSON form)."""
    return {"request_id": request_id, "label": label, "ts": int(datetime.now(UTC).timestamp() * 1000)}


def command(command_id: str, **changes: Any) -> dict[str, Any]:
    """A well-formed (unsigned) command record (JSON form)."""
    record = {
        "command_id": command_id,
        "action": "freeze",
        "targets": [{"kind": "route", "name": "fuzz"}],
        "issuer": "fuzz",
        "issued_ts": int(datetime.now(UTC).timestamp() * 1000),
        "key_id": "default",
        "signature": "0" * 64,
    }
    return record | changes


def valid(topic: str, request_id: str) -> dict[str, Any]:
    return {"inference.events": inference, "feedback.events": feedback, "commands": command}[topic](request_id)


def nested(depth: int, leaf: Any = 1, *, as_object: bool = False) -> str:
    """JSON text of ``leaf`` nested ``depth`` levels deep, built as text (no recursion to build it)."""
    if as_object:
        return '{"a":' * depth + json.dumps(leaf) + "}" * depth
    return "[" * depth + json.dumps(leaf) + "]" * depth


def as_json(record: dict[str, Any], **raw: str) -> bytes:
    """``record`` as JSON, with ``raw`` fields spliced in as ready-made JSON text."""
    text = json.dumps(record)
    if raw:
        extra = ",".join(f"{json.dumps(name)}:{value}" for name, value in raw.items())
        text = text[:-1] + ("," if record else "") + extra + "}"
    return text.encode()


# -- strategies --------------------------------------------------------------------------------

ids = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12).map(lambda s: f"h-{s}")
json_leaves = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = st.recursive(
    json_leaves, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
)


@st.composite
def random_bytes(draw: st.DrawFn, topic: str) -> Input:
    value = draw(st.binary(min_size=0, max_size=300))
    return Input(topic, draw(st.none() | st.binary(max_size=20)), value, "random_bytes")


@st.composite
def random_json(draw: st.DrawFn, topic: str) -> Input:
    value = draw(json_values)
    return Input(topic, draw(ids).encode(), json.dumps(value).encode(), "random_json")


@st.composite
def field_replaced(draw: st.DrawFn, topic: str) -> Input:
    """A valid record with one field replaced by any JSON value, removed, or an unknown field added."""
    request_id = draw(ids)
    record = valid(topic, request_id)
    name = draw(st.sampled_from(sorted(record)))
    how = draw(st.sampled_from(["replace", "remove", "unknown"]))
    if how == "replace":
        record[name] = draw(json_values)
    elif how == "remove":
        del record[name]
    else:
        record[draw(st.text(min_size=1, max_size=10).filter(lambda n: n not in record))] = draw(json_values)
    return Input(topic, request_id.encode(), json.dumps(record).encode(), f"field_{how}:{name}")


@st.composite
def huge_field(draw: st.DrawFn, topic: str) -> Input:
    """One string field (or an attribute value, or a map key) far over its limit: up to 1 MB."""
    request_id = draw(ids)
    record = valid(topic, request_id)
    where = draw(st.sampled_from([*STRING_FIELDS[topic], "map_key", "map_value"]))
    over = (LIMITS.id_chars if where in ID_FIELDS else LIMITS.string_chars) + 1
    size = draw(st.sampled_from([over, 70_000, 1_000_000]))
    if where == "map_key":
        record["map" if topic == "commands" else "features"] = {"k" * size: 1.0}
    elif where == "map_value":
        if topic != "inference.events":
            record["note"] = "v" * size
        else:
            record["attributes"] = {"note": "v" * size}
    else:
        record[where] = "x" * size
    return Input(topic, request_id.encode(), json.dumps(record).encode(), f"huge:{where}:{size}")


@st.composite
def deep(draw: st.DrawFn, topic: str) -> Input:
    """Nesting from just over the limit to 100,000 levels, as an extra field, a field's value or the whole value."""
    request_id = draw(ids)
    depth = draw(st.sampled_from([9, 1_000, 10_000, 100_000]))
    text = nested(depth, as_object=draw(st.booleans()))
    where = draw(st.sampled_from(["extra", "features", "whole"]))
    if where == "whole":
        value = text.encode()
    else:
        record = valid(topic, request_id)
        name = "features" if where == "features" and topic == "inference.events" else "extra"
        record.pop(name, None)
        value = as_json(record, **{name: text})
    return Input(topic, request_id.encode(), value, f"deep:{where}:{depth}")


@st.composite
def too_many(draw: st.DrawFn, topic: str) -> Input:
    request_id = draw(ids)
    record = valid(topic, request_id)
    entries = {f"f{i}": 1.0 for i in range(draw(st.sampled_from([4_097, 20_000])))}
    record["features" if topic == "inference.events" else "extra"] = entries
    return Input(topic, request_id.encode(), json.dumps(record).encode(), f"too_many:{len(entries)}")


@st.composite
def bad_key(draw: st.DrawFn, topic: str) -> Input:
    """A valid join input keyed by nothing, by another id, or by a 1 MB key."""
    request_id = draw(ids)
    key = draw(st.sampled_from([None, b"someone-else", b"k" * 1_000_000]))
    return Input(topic, key, json.dumps(valid(topic, request_id)).encode(), f"key:{len(key) if key else key}")


@st.composite
def broken_avro(draw: st.DrawFn, topic: str) -> Input:
    """Framed Avro of a valid record, truncated, extended, bit-flipped or under an unknown schema id."""
    request_id = draw(ids)
    data = bytearray(SERDE.encode_json(topic, valid(topic, request_id)))
    how = draw(st.sampled_from(["truncate", "extend", "flip", "schema_id"]))
    if how == "truncate":
        data = data[: draw(st.integers(0, len(data) - 1))]
    elif how == "extend":
        data += draw(st.binary(min_size=1, max_size=20))
    elif how == "flip":
        at = draw(st.integers(5, len(data) - 1))
        data[at] ^= 1 << draw(st.integers(0, 7))
    else:
        struct.pack_into(">I", data, 1, draw(st.integers(1000, 2**32 - 1)))
    return Input(topic, request_id.encode(), bytes(data), f"avro_{how}")


@st.composite
def non_finite(draw: st.DrawFn) -> Input:
    request_id = draw(ids)
    bad = draw(st.sampled_from([float("nan"), float("inf"), float("-inf")]))
    where = draw(st.sampled_from(["features", "probabilities"]))
    record = inference(request_id, **{where: {"x": bad}})
    value = SERDE.encode_json("inference.events", record) if draw(st.booleans()) else json.dumps(record).encode()
    return Input("inference.events", request_id.encode(), value, f"non_finite:{where}")


def hostile(topic: str) -> st.SearchStrategy[Input]:
    """Every kind of hostile input for one input topic."""
    kinds = [random_bytes(topic), random_json(topic), field_replaced(topic), huge_field(topic), deep(topic)]
    kinds += [too_many(topic), broken_avro(topic)]
    if topic in JOIN_TOPICS:
        kinds.append(bad_key(topic))
    if topic == "inference.events":
        kinds.append(non_finite())
    return st.one_of(kinds)


any_hostile = st.sampled_from(INPUT_TOPICS).flatmap(hostile)


GENERATE = settings(database=None, deadline=None, phases=[Phase.generate], suppress_health_check=list(HealthCheck))


def draw(count: int, *, seed_value: int = 0, strategy: st.SearchStrategy[Input] = any_hostile) -> list[Input]:
    """``count`` inputs generated by hypothesis (generation only, no shrinking), reproducible by ``seed_value``."""
    drawn: list[Input] = []

    @settings(GENERATE, max_examples=count)
    @seed(seed_value)
    @given(strategy)
    def collect(item: Input) -> None:
        drawn.append(item)

    collect()
    return drawn


def classify(item: Input, serde: Serde = SERDE) -> str | None:
    """The dead-letter reason insitu must give ``item``, or None when it is a valid input.

    The join's checks in the join's order; commands only by their decoding (a command that
    decodes is judged by the command gate, which the router's tests cover).
    """
    try:
        if item.topic == "commands":
            serde.limits.check_key(item.key)
        record = serde.decode(item.topic, item.value)
        if item.topic == "inference.events":
            check_key(record, item.key)
            check_inference(record, ROUTES)
        elif item.topic == "feedback.events":
            check_key(record, item.key)
            check_feedback(record)
    except Rejected as exc:
        return exc.reason
    return None


class Sender:
    """Produces inputs and remembers where each one landed (its dead letter names that position)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.producer = producer(settings, **{"message.max.bytes": 1_048_000})
        self.positions: dict[int, tuple[str, int, int]] = {}

    def send(self, item: Input) -> int:
        """Produce ``item``; its index in ``positions``."""
        index = len(self.positions)

        def landed(error: Any, message: Any) -> None:
            assert error is None, f"{item.kind}: {error}"
            self.positions[index] = (message.topic(), message.partition(), message.offset())

        self.positions[index] = ("", -1, -1)
        while True:
            try:
                self.producer.produce(
                    self.settings.topic(item.topic), key=item.key, value=item.value, on_delivery=landed
                )
                break
            except BufferError:
                self.producer.poll(0.1)
        self.producer.poll(0)
        return index

    def pair(self, request_id: str, instance: str) -> None:
        key = request_id.encode()
        self.send(Input("inference.events", key, json.dumps(inference(request_id, instance=instance)).encode(), "ok"))
        self.send(Input("feedback.events", key, json.dumps(feedback(request_id)).encode(), "ok"))

    def flush(self) -> None:
        assert self.producer.flush(60) == 0
