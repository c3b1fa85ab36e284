"""Run one Faust agent in-process, without a broker: Faust's ``test_context`` and a memory store.

``AgentHarness`` puts messages on any of the agent's topics (Faust's own ``put`` cannot name
the topic of an agent that reads several) and records every record the agent sends. What
reaches Kafka otherwise is replaced: sends are recorded, table changelog writes go nowhere, and
the continuity check (which reads committed offsets) sees no holes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any
from unittest import mock

from faust.tables.base import Collection
from faust.topics import Topic
from faust.types import TP

from schemas import Serde
from streams.continuity import Continuity


@dataclass(frozen=True)
class Sent:
    topic: str
    key: bytes | None
    value: bytes | None


class AgentHarness:
    """``async with AgentHarness(agent) as h: await h.put(topic, key, value)``; ``h.sent`` lists what went out."""

    def __init__(self, agent: Any) -> None:
        self.agent = agent
        self.sent: list[Sent] = []
        self._offsets: dict[tuple[str, int], int] = {}
        self._context: Any = None
        self._patches: Any = None

    async def __aenter__(self) -> AgentHarness:
        async def send(topic: Any, *, key: bytes | None = None, value: bytes | None = None, **_: Any) -> None:
            self.sent.append(Sent(topic.get_topic_name(), key, value))

        async def no_holes(continuity: Continuity, partition: int, offset: int) -> list[Any]:
            return []

        def changelog(table: Collection, partition: int | None, *_: Any, **__: Any) -> Any:
            return SimpleNamespace(message=SimpleNamespace(partition=partition or 0))  # what Faust reads back

        self._patches = _patched(send, no_holes, changelog)
        self._patches.__enter__()
        self._context = self.agent.test_context()
        self.wrapper = await self._context.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self._context.__aexit__(*exc)
        finally:
            self._patches.__exit__(None, None, None)

    async def put(self, topic: str, key: bytes | None, value: bytes | None, partition: int = 0) -> None:
        """Deliver one message of physical ``topic`` and wait until the agent has processed it."""
        offset = self._offsets.get((topic, partition), 0)
        self._offsets[(topic, partition)] = offset + 1
        message = self.wrapper.to_message(key, value, partition=partition, offset=offset)  # this generation's
        message.topic, message.tp = topic, TP(topic, partition)
        channel = self.wrapper.stream().channel
        await channel.put(await channel.decode(message))
        async with self.wrapper.new_value_processed:
            await asyncio.wait_for(self.wrapper.new_value_processed.wait(), 10)
        if self.wrapper._crash_reason:
            raise self.wrapper._crash_reason

    def decoded(self, topic: str, serde: Serde, catalog_topic: str) -> list[dict[str, Any]]:
        """The records sent to physical ``topic``, decoded as ``catalog_topic``."""
        return [serde.decode(catalog_topic, s.value) for s in self.sent if s.topic == topic]


@contextmanager
def _patched(send: Any, no_holes: Any, changelog: Any) -> Iterator[None]:
    with (
        mock.patch.object(Topic, "send", send),
        mock.patch.object(Continuity, "missing", no_holes),
        mock.patch.object(Collection, "send_changelog", changelog),
    ):
        yield
