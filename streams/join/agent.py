"""The join agent: inference and feedback halves meet in a table keyed by request id.

A joined event goes to ``joined.events`` keyed by instance, and the same bytes to the internal
``joined-by-route`` topic keyed by route, which the profiler and the router read directly.
"""

from __future__ import annotations

import base64
import heapq
import json
import logging
import time
from typing import Any

from schemas import Rejected, Serde
from streams import stages, topology
from streams.app import app, settings
from streams.continuity import Continuities, Record
from streams.deadletter import DeadLetters, Message, check_record, send
from streams.join.logic import Outcome, on_expiry, on_feedback, on_inference
from streams.routes import RouteCatalog
from streams.ticks import Ticker
from streams.topology import FEEDBACK, INFERENCE, TICKS, join_source, joined_by_route, joined_events, unlabelled
from streams.validation import InvalidEvent, check_feedback, check_inference, check_key

log = logging.getLogger(__name__)
SOURCE = "streams.join"
TTL_MS = int(settings.feedback_ttl.total_seconds() * 1000)
CONTINUITY_WINDOW_S = 120.0

serde = Serde.from_settings(settings)
dead_letters = DeadLetters(SOURCE, serde)
routes = RouteCatalog.load(settings.routes_file, settings.pii_salt.get_secret_value().encode())
ticker = Ticker(settings, TICKS, settings.topic_partitions)
join_state = topology.join_state()
lag = stages.stage("join", INFERENCE, FEEDBACK)


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
continuity = Continuities(settings, group=settings.app_id, topics=(INFERENCE, FEEDBACK), window=CONTINUITY_WINDOW_S)


@app.on_partitions_revoked.connect  # type: ignore[arg-type]
async def _forget_offsets(app: Any, *args: Any, **kwargs: Any) -> None:
    continuity.forget()


@app.agent(join_source)
async def join_agent(stream: Any) -> None:
    async for event in stream.events():
        message = event.message
        now_ms = int(time.time() * 1000)
        if message.topic != TICKS:
            for record in await continuity.missing(message):
                await dead_letters.guard(record, handle(record, now_ms))
            await dead_letters.guard(message, handle(message, now_ms))
            stages.processed(lag, message)
        try:
            await expire(message.partition, now_ms)
        except Exception:  # a bug in expiry must not stop the join; the deadlines are tried again next tick
            log.exception("expiring join state of partition %d failed", message.partition)


async def handle(message: Message, now_ms: int) -> None:
    """Join one inference or feedback half; raises ``Rejected`` for input that goes to ``deadletter``."""
    partition, offset, key, value = message.partition, message.offset, message.key, message.value
    logical = "inference.events" if message.topic == INFERENCE else "feedback.events"
    record = serde.decode(logical, value, partition=partition, offset=offset)
    check_key(record, key)
    if logical == "inference.events":
        check_inference(record, routes)
        record["features"] = routes.anonymise(record["route"], record["features"])
        record["attributes"] = routes.anonymise(record["route"], record["attributes"])
    else:
        check_feedback(record)
    request_id = record["request_id"]
    state = join_state.get(request_id)
    if logical == "inference.events":
        outcome = on_inference(state, record, now_ms=now_ms, ttl_ms=TTL_MS, partition=partition, offset=offset)
    else:
        record["raw"] = {"value": _b64(value), "key": _b64(key), "offset": offset}
        outcome = on_feedback(state, record, now_ms=now_ms, ttl_ms=TTL_MS, partition=partition, offset=offset)
    if outcome.rejected is not None:
        reason, detail = outcome.rejected
        raise InvalidEvent(reason=reason, detail=detail)
    await apply(request_id, partition, outcome)


async def apply(request_id: str, partition: int, outcome: Outcome) -> None:
    joined_key = joined_value = None
    if outcome.joined is not None:  # encoded and checked before any state changes
        joined_key, route_key = outcome.joined["instance_id"].encode(), outcome.joined["route"].encode()
        joined_value = serde.encode("joined.events", outcome.joined)
        check_record(joined_events.get_topic_name(), joined_key, joined_value)
    if outcome.state is None:
        join_state.pop(request_id, None)
    else:
        # The state holds the input's content, re-encoded as JSON (a control character takes six bytes
        # there): measured before it reaches the table's changelog, where a refusal would stop the worker.
        changelog = join_state.changelog_topic.get_topic_name()
        check_record(changelog, request_id.encode(), json.dumps(outcome.state).encode())
        join_state[request_id] = outcome.state
        deadlines.push(partition, outcome.state["deadline"], request_id)
    if joined_value is not None:
        await send(joined_events, key=joined_key, value=joined_value)
        await send(joined_by_route, key=route_key, value=joined_value)
    if outcome.unlabelled is not None:
        event = outcome.unlabelled
        notice = {k: event[k] for k in ("request_id", "route", "instance_id", "model_version", "ts")}
        await send(unlabelled, key=event["instance_id"].encode(), value=json.dumps(notice).encode())
    if outcome.orphan is not None:
        raw = outcome.orphan.get("raw", {})
        ttl_s = TTL_MS / 1000
        label = Record(FEEDBACK, partition, raw.get("offset", -1), _unb64(raw.get("key")), _unb64(raw.get("value")))
        detail = f"feedback for request {request_id} had no inference within {ttl_s:g}s"
        await dead_letters.reject(label, Rejected(detail, reason="orphan_feedback"))


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


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


def _unb64(text: str | None) -> bytes | None:
    return None if text is None else base64.b64decode(text)
