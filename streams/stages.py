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
from streams.lag import StageLag
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


def current_records(now_ms: int) -> list[dict[str, Any]]:
    """One ``stage.lag`` record per stage, over the partitions this worker owns."""
    owned = app.assignor.assigned_actives()
    consumer = app.consumer
    committed = getattr(consumer, "_committed_offset", {})  # Faust's: the next offset to read, once committed
    records = []
    for lag, topics in stages.values():
        mine = [tp for tp in owned if tp.topic in topics]
        ends = {(tp.topic, tp.partition): consumer.highwater(tp) for tp in mine}
        starts = {(tp.topic, tp.partition): committed.get(tp) for tp in mine}
        records.append(lag.record(ends, now_ms, committed=starts))
    return records


def positions() -> dict[tuple[str, int], tuple[int, int]]:
    """Per owned partition a stage reads: its end offset and the next offset its stages expect.

    The next offset expected is the lowest over the stages reading the topic: after the last
    message each processed here, or where one has processed none yet the committed position (a
    partition the group never committed is left out: where it starts is not known here).
    """
    consumer = app.consumer
    committed = getattr(consumer, "_committed_offset", {})  # Faust's: the next offset to read, once committed
    out = {}
    for tp in app.assignor.assigned_actives():
        nexts: list[int | None] = []
        for lag, topics in stages.values():
            if tp.topic in topics:
                last = lag.offsets.get((tp.topic, tp.partition))
                nexts.append(last + 1 if last is not None else committed.get(tp))
        end = consumer.highwater(tp)
        known = [n for n in nexts if n is not None]
        if nexts and len(known) == len(nexts) and end is not None:
            out[(tp.topic, tp.partition)] = (end, min(known))
    return out


@app.timer(interval=settings.lag_interval)
async def _read_stalled_again() -> None:
    if app.rebalancing or app.in_recovery or not stages:
        stalls.forget()
        return
    current = positions()
    for topic, partition, offset in stalls.check(current, time.monotonic()):
        end = current[(topic, partition)][0]
        log.warning(
            "%s[%d]: offsets %d..%d wait but no stage received any for %.0fs; reading them again",
            topic,
            partition,
            offset,
            end - 1,
            STALL_PATIENCE_S,
        )
        await app.consumer.seek(TP(topic, partition), offset)


@app.timer(interval=settings.lag_interval)
async def _send_lag() -> None:
    if app.rebalancing or not stages:
        return
    lag_records.produce_records(serde, "stage.lag", current_records(int(time.time() * 1000)), key="stage")
