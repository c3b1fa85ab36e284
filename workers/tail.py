"""Follow the recent end of a topic without a consumer group: what fills a worker's reservoir.

Every partition is read from ``depth`` messages before its end, then followed. Nothing
is committed, so each copy of a worker sees the whole topic (every route), and a
restart re-reads the recent tail instead of starting empty. Undecodable records are
skipped with a warning: the analytics sink, which consumes the same topic in its
group, already dead-letters them once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from infra.config import Settings
from infra.topic_reader import Message, TopicReader
from schemas import Serde

log = logging.getLogger(__name__)


class TailReader:
    """Reads logical ``topic`` from its tail and hands each decoded record to ``on_record``.

    ``start()`` assigns the partitions, ``poll()`` reads what is there, ``catch_up()``
    reads until every partition is at the end it had when called.
    """

    def __init__(
        self,
        settings: Settings,
        topic: str,
        *,
        depth: int,
        on_record: Callable[[dict[str, Any]], None],
        serde: Serde,
        name: str,
    ) -> None:
        self.topic = topic
        self.on_record = on_record
        self.name = name
        self.read = 0
        self.skipped = 0
        self._reader = TopicReader(settings, topic, start=depth, serde=serde, name=f"{name}-tail")

    def start(self, timeout: float = 30.0) -> None:
        self._reader.open(timeout)

    def poll(self, timeout: float = 0.0, max_messages: int = 500) -> int:
        """Read what is available (waiting at most ``timeout``); returns the records handed on."""
        return self._hand_on(self._reader.poll(timeout, max_messages))

    def catch_up(self, timeout: float) -> bool:
        """Read until every partition reaches the end it has now; False if ``timeout`` passed first."""
        try:
            for message in self._reader.read_to_end(timeout):
                self._hand_on([message])
        except TimeoutError as exc:
            log.warning("%s", exc)
            return False
        return True

    def _hand_on(self, messages: list[Message]) -> int:
        handed = 0
        for message in messages:
            if message.record is None:
                self.skipped += 1
                log.warning("%s: skipped an undecodable record: %s", self.name, message.error or "no value")
                continue
            self.on_record(message.record)
            handed += 1
        self.read += handed
        return handed

    def close(self) -> None:
        self._reader.close()
