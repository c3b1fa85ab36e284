"""The stages of this streams worker and their lag, sent to ``stage.lag`` on a timer.

Each group of agents declares its stage with the input topics it consumes (``stage``) and
notes every message it has processed (``processed``); every ``INSITU_LAG_INTERVAL`` seconds a
record per stage goes out, counting only the partitions this worker owns. The same notes find
partitions whose waiting messages never reach their stage (``streams.stalls``), which are
read again from the next offset the stage expects.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from faust.types import TP

from infra.kafka_clients import LazyProducer
from schemas import Serde
from streams.app import app, settings
from streams.deadletter import Message
from streams.lag import StageLag, TopicPartition
from streams.stalls import Stalls

log = logging.getLogger(__name__)
STALL_PATIENCE_S = 30.0

serde = Serde.from_settings(settings)
stages: dict[str, tuple[StageLag, frozenset[str]]] = {}
lag_records = LazyProducer(settings)  # sent from a timer, outside stream processing


def stage(name: str, *topics: str) -> StageLag:
    """The lag of stage ``name``, whose agents consume ``topics``; declared once per stage."""
    if name not in stages:
        stages[name] = (StageLag(name), frozenset(topics))
    return stages[name][0]


def processed(lag: StageLag, message: Message) -> None:
    """Note that ``lag``'s stage has processed ``message`` (a Faust message)."""
    timestamp = getattr(message, "timestamp", None)
    lag.processed(
        message.topic,
        message.partition,
        message.offset,
        int(timestamp * 1000) if timestamp else None,
        int(time.time() * 1000),
    )


stalls = Stalls(STALL_PATIENCE_S)


@app.on_partitions_assigned.connect  # type: ignore[arg-type]
async def _forget_offsets(app: Any, *args: Any, **kwargs: Any) -> None:
    for lag, _ in stages.values():
        lag.forget()
    stalls.forget()


Offsets = dict[TopicPartition, int | None]


def owned_offsets() -> tuple[Offsets, Offsets]:
    """Per owned partition some stage reads: its end offset, and Faust's committed position (the
    next offset to read once committed); None where not known yet."""
    consumer = app.consumer
    committed = getattr(consumer, "_committed_offset", {})
    read = {topic for _, topics in stages.values() for topic in topics}
    mine = [tp for tp in app.assignor.assigned_actives() if tp.topic in read]
    ends: Offsets = {(tp.topic, tp.partition): consumer.highwater(tp) for tp in mine}
    starts: Offsets = {(tp.topic, tp.partition): committed.get(tp) for tp in mine}
    return ends, starts


def current_records(now_ms: int, ends: Offsets, starts: Offsets) -> list[dict[str, Any]]:
    """One ``stage.lag`` record per stage, over the partitions this worker owns."""
    records = []
    for lag, topics in stages.values():
        mine = {tp: end for tp, end in ends.items() if tp[0] in topics}
        records.append(lag.record(mine, now_ms, committed=starts))
    return records


def positions(ends: Offsets, starts: Offsets) -> dict[TopicPartition, tuple[int, int]]:
    """Per owned partition a stage reads: its end offset and the lowest next offset its stages expect
    (a partition one of them has processed none of, and the group never committed, is left out)."""
    out = {}
    for tp, end in ends.items():
        nexts = [lag.next_offset(tp, starts[tp]) for lag, topics in stages.values() if tp[0] in topics]
        known = [n for n in nexts if n is not None]
        if end is not None and len(known) == len(nexts):
            out[tp] = (end, min(known))
    return out


@app.timer(interval=settings.lag_interval)
async def _every_lag_interval() -> None:
    """Send each stage's ``stage.lag`` record, then read again the partitions that stalled."""
    if app.rebalancing or not stages:
        stalls.forget()
        return
    ends, starts = owned_offsets()
    lag_records.produce_records(serde, "stage.lag", current_records(int(time.time() * 1000), ends, starts), key="stage")
    if app.in_recovery:
        stalls.forget()
        return
    current = positions(ends, starts)
    for topic, partition, offset in stalls.check(current, time.monotonic()):
        log.warning(
            "%s[%d]: offsets %d..%d wait but no stage received any for %.0fs; reading them again",
            topic,
            partition,
            offset,
            current[(topic, partition)][0] - 1,
            STALL_PATIENCE_S,
        )
        await app.consumer.seek(TP(topic, partition), offset)
