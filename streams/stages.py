"""The stages of this streams worker and their lag, sent to ``stage.lag`` on a timer.

Each group of agents declares its stage with the input topics it consumes (``stage``) and
notes every message it has processed (``processed``); every ``INSITU_LAG_INTERVAL`` seconds a
record per stage goes out, counting only the partitions this worker owns.
"""

from __future__ import annotations

import time
from typing import Any

from infra.kafka_clients import LazyProducer
from schemas import Serde
from streams.app import app, settings
from streams.deadletter import Message
from streams.lag import StageLag

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


@app.on_partitions_assigned.connect  # type: ignore[arg-type]
async def _forget_offsets(app: Any, *args: Any, **kwargs: Any) -> None:
    for lag, _ in stages.values():
        lag.forget()


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


@app.timer(interval=settings.lag_interval)
async def _send_lag() -> None:
    if app.rebalancing or not stages:
        return
    lag_records.produce_records(serde, "stage.lag", current_records(int(time.time() * 1000)), key="stage")
