"""The router's feeder and commands agents in Faust's test context (memory store, no broker)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from schemas import Serde
from streams.router import agent as router
from streams.router import command_agent, envelope
from streams.topology import command_results, commands, deadletter, joined_events, router_input
from tests.hostile import command, nested
from tests.samples import SAMPLES
from tests.streams.harness import AgentHarness

SERDE = Serde()


def run(agent: Any, steps: list[tuple[str, bytes | None, bytes]]) -> AgentHarness:
    async def main() -> AgentHarness:
        async with AgentHarness(agent) as harness:
            for topic, key, value in steps:
                await harness.put(topic, key, value)
        return harness

    return asyncio.run(main())


def test_a_joined_event_is_forwarded_keyed_by_its_route() -> None:
    record = SERDE.from_json("joined.events", SAMPLES["joined.events"])
    harness = run(
        router.router_joined, [(joined_events.get_topic_name(), b"credit-a", SERDE.encode("joined.events", record))]
    )
    (sent,) = harness.sent
    body = envelope.parse(sent.value or b"")
    assert (sent.topic, sent.key) == (router_input.get_topic_name(), b"credit")
    assert (body["k"], body["instance_id"], body["correct"], body["src"]) == ("joined", "credit-a", False, ["j0", 0])


def test_a_command_nested_too_deep_is_audited_and_dead_lettered() -> None:
    value = json.dumps(command("c1"))[:-1] + f', "extra": {nested(10_000, as_object=True)}}}'
    harness = run(command_agent.router_commands, [(commands.get_topic_name(), b"fuzz", value.encode())])
    (result,) = harness.decoded(command_results.get_topic_name(), SERDE, "command.results")
    (letter,) = harness.decoded(deadletter.get_topic_name(), SERDE, "deadletter")
    assert (result["result"], result["reason"]) == ("rejected", "too_deep")
    assert (letter["reason"], letter["original_value"], letter["source"]) == (
        "too_deep",
        value.encode(),
        "streams.router",
    )
