"""The join agent in Faust's test context (memory store, no broker): inputs in, records out."""

from __future__ import annotations

import asyncio
import json

from schemas import Serde
from streams.join import agent as join
from tests.hostile import feedback, inference
from tests.streams.harness import AgentHarness

SERDE = Serde()


def run(steps: list[tuple[str, bytes | None, bytes]]) -> AgentHarness:
    async def main() -> AgentHarness:
        async with AgentHarness(join.join_agent) as harness:
            for topic, key, value in steps:
                await harness.put(topic, key, value)
        return harness

    return asyncio.run(main())


def test_halves_join_and_bad_halves_are_dead_lettered() -> None:
    label = json.dumps(feedback("r1", label="no")).encode()
    harness = run(
        [
            (join.INFERENCE, b"r1", json.dumps(inference("r1", instance="unit-a")).encode()),
            (join.FEEDBACK, b"r1", label),
            (join.FEEDBACK, b"r1", label),  # a second label at another offset: a duplicate
            (join.INFERENCE, None, json.dumps(inference("r2")).encode()),
            (join.FEEDBACK, b"r3", b"neither Avro nor JSON"),
        ]
    )
    (joined,) = harness.decoded(join.joined_events.get_topic_name(), SERDE, "joined.events")
    assert (joined["request_id"], joined["instance_id"], joined["label"], joined["correct"]) == (
        "r1",
        "unit-a",
        "no",
        False,
    )
    keys = {(s.topic, s.key) for s in harness.sent if s.value is not None and s.topic.endswith("joined-by-route")}
    assert keys == {(join.joined_by_route.get_topic_name(), joined["route"].encode())}
    assert [s.key for s in harness.sent if s.topic == join.joined_events.get_topic_name()] == [b"unit-a"]
    dead = harness.decoded(join.topology.deadletter.get_topic_name(), SERDE, "deadletter")
    assert [(d["reason"], d["original_offset"], d["source"]) for d in dead] == [
        ("duplicate", 1, "streams.join"),
        ("missing_key", 1, "streams.join"),
        ("undecodable", 2, "streams.join"),
    ]
