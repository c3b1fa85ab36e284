"""Read a topic and decode each value: what ``insitu consume`` does."""

from __future__ import annotations

import time
from collections.abc import Iterator

from infra.config import Settings
from infra.topic_reader import Message, Start, TopicReader
from schemas import Serde


def read_topic(
    settings: Settings,
    topic: str,
    *,
    serde: Serde,
    from_beginning: bool,
    follow: bool,
    max_messages: int | None = None,
    idle_timeout: float | None = None,
) -> Iterator[Message]:
    """Yield the messages of catalog ``topic`` from every partition, without a consumer group.

    Without ``follow`` it stops when every partition has reached the end it had at the start.
    Undecodable values are yielded with ``error`` set; they never stop the loop.
    """
    start: Start = "beginning" if from_beginning else "end"
    with TopicReader(settings, topic, start=start, serde=serde, name="cli") as reader:
        ends = None if follow else reader.ends()
        seen, last_message = 0, time.monotonic()
        while max_messages is None or seen < max_messages:
            if ends is not None and reader.reached(ends):
                return
            batch = reader.poll(0.5, max_messages=500 if max_messages is None else max_messages - seen)
            if not batch:
                if idle_timeout is not None and time.monotonic() - last_message > idle_timeout:
                    return
                continue
            last_message = time.monotonic()
            for message in batch:
                yield message
                seen += 1
