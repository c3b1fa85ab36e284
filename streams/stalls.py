"""Partitions whose messages wait while their stage receives none of them: read them again.

faust-streaming (0.15.x) can take records from the Kafka client and never hand them to a
stream (records fetched while a rebalance stops its fetch loop, or while the partition is
paused), and the client's position has already moved past them: the partition then gets
nothing more until its next rebalance, though its end offset says messages wait. Seen in the
two-worker recovery test: a worker's join stopped after one message of a partition whose
client position was at its end. ``Stalls`` notices a partition whose next expected offset has
not moved for ``patience_s`` while messages wait; the worker then seeks it back to that
offset (``streams.stages``). Reading a message twice is harmless: every stage is idempotent
under at-least-once delivery.
"""

from __future__ import annotations

from collections.abc import Mapping

from streams.lag import TopicPartition


class Stalls:
    """Per partition, how long its next expected offset has stood still while messages waited.

    >>> stalls = Stalls(patience_s=20)
    >>> stalls.check({("in", 0): (10, 4)}, now=0)  # end offset 10, next expected 4: first seen
    []
    >>> stalls.check({("in", 0): (10, 4)}, now=25)
    [('in', 0, 4)]
    >>> stalls.check({("in", 0): (10, 4)}, now=30)  # rewound: another patience before the next rewind
    []
    >>> stalls.check({("in", 0): (11, 5)}, now=40), stalls.check({("in", 0): (11, 11)}, now=90)
    ([], [])
    """

    def __init__(self, patience_s: float) -> None:
        self.patience_s = patience_s
        self._since: dict[TopicPartition, tuple[int, float]] = {}

    def check(self, positions: Mapping[TopicPartition, tuple[int, int]], now: float) -> list[tuple[str, int, int]]:
        """``positions``: per partition (end offset, next offset expected); the stalled ones, to read again."""
        stalled = []
        for tp, (end, expected) in positions.items():
            seen = self._since.get(tp)
            if end <= expected:
                self._since.pop(tp, None)
            elif seen is None or seen[0] != expected:
                self._since[tp] = (expected, now)
            elif now - seen[1] >= self.patience_s:
                stalled.append((tp[0], tp[1], expected))
                self._since[tp] = (expected, now)
        return stalled

    def forget(self) -> None:
        """After a rebalance: the partitions and their positions may have moved."""
        self._since.clear()
