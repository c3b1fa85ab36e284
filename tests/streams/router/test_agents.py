"""The router's commands agent in Faust's test context (memory store, no broker)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from schemas import Serde
from streams.router import command_agent
from streams.topology import command_results, commands, deadletter
from tests.hostile import command, nested
from tests.streams.harness import AgentHarness

SERDE = Serde()


def run(agent: Any, steps: list[tuple[str, bytes | None, bytes]]) -> AgentHarness:
    async def main() -> AgentHarness:
        async with AgentHarness(agent) as harness:
            for topic, key, value in steps:
                await harness.put(topic, key, value)
        return harness

    return asyncio.run(main())


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
