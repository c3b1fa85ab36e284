"""The join agent: inference and feedback halves meet in a table keyed by request id."""

from __future__ import annotations

import base64
import heapq
import json
import logging
import time
from typing import Any

from schemas import Serde, SerializationError
from streams import topics
from streams.app import app, settings
from streams.continuity import Continuity
from streams.deadletter import dead_letter, from_error
from streams.join.logic import Outcome, on_expiry, on_feedback, on_inference
from streams.routes import RouteCatalog
from streams.ticks import Ticker
from streams.validation import InvalidEvent, check_feedback, check_inference

log = logging.getLogger(__name__)
SOURCE = "streams.join"
INFERENCE = settings.topic("inference.events")
FEEDBACK = settings.topic("feedback.events")
TICKS = f"{settings.app_id}-join-ticks"
TTL_MS = int(settings.feedback_ttl.total_seconds() * 1000)
CONTINUITY_WINDOW_S = 120.0

serde = Serde.from_settings(settings)
routes = RouteCatalog.load(settings.routes_file, settings.pii_salt.get_secret_value().encode())
ticker = Ticker(settings, TICKS, settings.topic_partitions)

ticks = app.topic(TICKS, partitions=settings.topic_partitions, internal=True, value_serializer="raw")
unlabelled = topics.internal_topic(f"{settings.app_id}-unlabelled")
source = app.topic(
    INFERENCE, FEEDBACK, TICKS, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
)
join_state = app.Table("join-state", default=None, partitions=settings.topic_partitions, key_type=str)


class Deadlines:
    """Per-partition heaps of (deadline, request id), rebuilt from the table after a rebalance."""

    def __init__(self) -> None:
        self.heaps: dict[int, list[tuple[int, str]]] = {}

    def reset(self) -> None:
        self.heaps.clear()

    def heap(self, partition: int) -> list[tuple[int, str]]:
        if partition not in self.heaps:
            entries = [(s["deadline"], k) for k, s in join_state.items() if s is not None and s.get("p") == partition]
            heapq.heapify(entries)
            self.heaps[partition] = entries
        return self.heaps[partition]

    def push(self, partition: int, deadline: int, request_id: str) -> None:
        heapq.heappush(self.heap(partition), (deadline, request_id))


deadlines = Deadlines()


@app.on_partitions_assigned.connect  # type: ignore[arg-type]
async def _forget_deadlines(app: Any, *args: Any, **kwargs: Any) -> None:
    deadlines.reset()


@app.timer(interval=max(0.5, min(5.0, settings.feedback_ttl.total_seconds() / 4)))
async def _tick() -> None:
    ticker.tick()


# Services may produce with transactions; holes are looked for only after a rebalance.
continuity = {
    topic: Continuity(settings, group=settings.app_id, topic=topic, window=CONTINUITY_WINDOW_S)
    for topic in (INFERENCE, FEEDBACK)
}


@app.on_partitions_revoked.connect  # type: ignore[arg-type]
async def _forget_offsets(app: Any, *args: Any, **kwargs: Any) -> None:
    for guard in continuity.values():
        guard.forget()


@app.agent(source)
async def join_agent(stream: Any) -> None:
    async for event in stream.events():
        message = event.message
        now_ms = int(time.time() * 1000)
        if message.topic != TICKS:
            for record in await continuity[message.topic].missing(message.partition, message.offset):
                await handle(record.topic, record.partition, record.offset, record.key, record.value, now_ms)
            await handle(message.topic, message.partition, message.offset, message.key, message.value, now_ms)
        await expire(message.partition, now_ms)


async def handle(topic: str, partition: int, offset: int, key: bytes | None, value: bytes | None, now_ms: int) -> None:
    logical = "inference.events" if topic == INFERENCE else "feedback.events"
    try:
        record = serde.decode(logical, value, partition=partition, offset=offset)
        if logical == "inference.events":
            check_inference(record, routes)
            record["features"] = routes.anonymise(record["route"], record["features"])
            record["attributes"] = routes.anonymise(record["route"], record["attributes"])
        else:
            check_feedback(record)
    except SerializationError as exc:
        await send_dead(from_error(exc, key=key, value=value, source=SOURCE, topic=topic), key)
        return
    except InvalidEvent as exc:
        await send_dead(_dead(topic, partition, offset, key, value, exc.reason, exc.detail), key)
        return
    request_id = record["request_id"]
    state = join_state.get(request_id)
    if logical == "inference.events":
        outcome = on_inference(state, record, now_ms=now_ms, ttl_ms=TTL_MS, partition=partition, offset=offset)
    else:
        record["raw"] = {"value": _b64(value), "key": _b64(key), "offset": offset}
        outcome = on_feedback(state, record, now_ms=now_ms, ttl_ms=TTL_MS, partition=partition, offset=offset)
    if outcome.rejected is not None:
        await send_dead(_dead(topic, partition, offset, key, value, *outcome.rejected), key)
        return
    await apply(request_id, partition, outcome)


async def apply(request_id: str, partition: int, outcome: Outcome) -> None:
    if outcome.state is None:
        join_state.pop(request_id, None)
    else:
        join_state[request_id] = outcome.state
        deadlines.push(partition, outcome.state["deadline"], request_id)
    if outcome.joined is not None:
        joined = outcome.joined
        await topics.joined_events.send(key=joined["instance_id"].encode(), value=serde.encode("joined.events", joined))
    if outcome.unlabelled is not None:
        event = outcome.unlabelled
        notice = {k: event[k] for k in ("request_id", "route", "instance_id", "model_version", "ts")}
        await unlabelled.send(key=event["instance_id"].encode(), value=json.dumps(notice).encode())
    if outcome.orphan is not None:
        raw = outcome.orphan.get("raw", {})
        ttl_s = TTL_MS / 1000
        detail = f"feedback for request {request_id} had no inference within {ttl_s:g}s"
        key = _unb64(raw.get("key"))
        record = _dead(FEEDBACK, partition, raw.get("offset"), key, _unb64(raw.get("value")), "orphan_feedback", detail)
        await send_dead(record, key)


async def expire(partition: int, now_ms: int) -> None:
    heap = deadlines.heap(partition)
    while heap and heap[0][0] <= now_ms:
        _, request_id = heapq.heappop(heap)
        state = join_state.get(request_id)
        if state is None:
            continue
        outcome = on_expiry(state, now_ms=now_ms)
        if outcome.state is not None:
            heapq.heappush(heap, (outcome.state["deadline"], request_id))
            continue
        await apply(request_id, partition, outcome)


async def send_dead(record: dict[str, Any], key: bytes | None) -> None:
    log.info("dead letter: %s %s", record["reason"], record["detail"])
    await topics.deadletter.send(key=key, value=serde.encode("deadletter", record))


def _dead(
    topic: str, partition: int, offset: int | None, key: bytes | None, value: bytes | None, reason: str, detail: str
) -> dict[str, Any]:
    return dead_letter(
        topic=topic,
        partition=partition,
        offset=offset,
        key=key,
        value=value,
        reason=reason,
        detail=detail,
        source=SOURCE,
    )


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


def _unb64(text: str | None) -> bytes | None:
    return None if text is None else base64.b64decode(text)
