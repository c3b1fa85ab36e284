"""The router's Faust agents: feeders re-key inputs by route; the router agent owns each route's state.

- ``router_snapshots``, ``router_versions`` decode their topic, dead-letter bad input
  (undecodable, schema-invalid, unknown route) and forward an envelope keyed by route to the
  router's input topic.
- ``router_commands`` (``streams.router.command_agent``) checks commands and forwards them
  to their routes.
- ``router`` reads the input topic and the joined events the join sends keyed by route
  (co-partitioned with it). Each route lives in one partition, so exactly one
  worker owns it at a time; its state (tables ``router-routes`` and ``router-evidence``)
  moves with the partition through the changelog. It decides each envelope through
  ``RouterEngine`` on a staged view of the tables, delivers what comes out (weights,
  version events, command results: ``streams.router.outputs``), records version statuses
  in the registry, and only then commits the state. Processing is at least once: a replayed
  envelope is recognised by offset (or command id), a replayed joined event by its position,
  and neither changes anything twice.
- A timer sends ticks to every input partition, so idle routes are still evaluated.

Importing this module registers every router agent with the app.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from schemas import Rejected, dead_letter
from streams import stages, topology
from streams.app import app, settings
from streams.continuity import Continuities
from streams.deadletter import Message, send
from streams.router import command_agent, envelope
from streams.router.channels import SOURCE, dead_letters, lag, result_record, serde
from streams.router.engine import RouterEngine
from streams.router.outputs import Outputs, Record
from streams.router.policy import RouterPolicy
from streams.router.registry import open_registry, record_status
from streams.router.staged import Staged
from streams.router.transitions import CommandOutcome, Effects, StatusChange
from streams.routes import RouteCatalog
from streams.ticks import Ticker
from streams.topology import JOINED_BY_ROUTE, metrics_snapshots, model_versions, router_input, router_source
from streams.validation import InvalidEvent

__all__ = ["command_agent", "router", "router_snapshots", "router_versions"]

log = logging.getLogger(__name__)
routes = RouteCatalog.load(settings.routes_file)
ticker = Ticker(settings, router_input.get_topic_name(), settings.topic_partitions)
router_routes, router_evidence = topology.router_routes(), topology.router_evidence()
policy = RouterPolicy.from_settings(settings)
outputs = Outputs(settings)
WEIGHTS, VERSIONS = settings.topic("routing.weights"), settings.topic("model.versions")
RESULTS, DEADLETTER = settings.topic("command.results"), settings.topic("deadletter")


class Registry:
    """The model registry, opened on first use (it is optional; see ``streams.router.registry``)."""

    def __init__(self) -> None:
        self._opened = False
        self._registry: Any = None

    def get(self) -> Any:
        if not self._opened:
            self._registry, self._opened = open_registry(settings), True
        return self._registry


registry = Registry()


# -- feeders -----------------------------------------------------------------------------------


Builder = Callable[[dict[str, Any], envelope.Source], "tuple[str, bytes] | None"]


async def feed(message: Message, topic: str, build: Builder) -> None:
    """Decode ``message`` of catalog ``topic``, build its envelope and forward it keyed by route."""
    record = serde.decode(topic, message.value, partition=message.partition, offset=message.offset)
    try:
        built = build(record, (message.partition, message.offset))
    except ValueError as exc:
        raise Rejected(str(exc), reason="schema_violation") from exc
    if built is None:
        return
    route, data = built
    await send(router_input, key=known(route).encode("utf-8"), value=data)


def known(route: str) -> str:
    if not routes.knows(route):
        raise InvalidEvent(reason="unknown_route", detail=f"route {route!r} is not in the routes file")
    return route


@app.agent(metrics_snapshots)
async def router_snapshots(stream: Any) -> None:
    async for event in stream.events():
        await dead_letters.guard(event.message, feed(event.message, "metrics.snapshots", envelope.snapshot))
        stages.processed(lag, event.message)


@app.agent(model_versions)
async def router_versions(stream: Any) -> None:
    async for event in stream.events():
        await dead_letters.guard(event.message, feed(event.message, "model.versions", envelope.version))
        stages.processed(lag, event.message)


# -- the router --------------------------------------------------------------------------------


continuity = Continuities(settings, group=settings.app_id, topics=(router_input.get_topic_name(), JOINED_BY_ROUTE))


@app.on_partitions_revoked.connect  # type: ignore[arg-type]
async def _forget_offsets(app: Any, *args: Any, **kwargs: Any) -> None:
    continuity.forget()


@app.agent(router_source)
async def router(stream: Any) -> None:
    async for event in stream.events():
        message = event.message
        for record in await continuity.missing(message):
            await dead_letters.guard(record, route_message(record))
        await dead_letters.guard(message, route_message(message))
        stages.processed(lag, message)


async def route_message(message: Message) -> None:
    """Decide on one envelope from staged state; deliver the outputs; then commit the state."""
    now_ms = int(time.time() * 1000)
    routes_view, evidence_view = Staged(router_routes), Staged(router_evidence)
    engine = RouterEngine(routes_view, evidence_view, policy)
    records: list[Record] = []
    if message.topic == JOINED_BY_ROUTE:
        record = serde.decode("joined.events", message.value, partition=message.partition, offset=message.offset)
        route, body = envelope.joined(record, source=(message.partition, message.offset))
        effects = engine.on_joined(known(route), message.partition, body, now_ms)
    elif message.value == envelope.TICK:
        effects = engine.on_tick(message.partition, now_ms)
    else:
        try:
            body = envelope.parse(message.value or b"")
            route = (message.key or b"").decode("utf-8")
        except ValueError as exc:  # UnicodeDecodeError included
            raise Rejected(str(exc), reason="undecodable") from exc
        kind, offset = body["k"], message.offset
        if kind == "joined":
            effects = engine.on_joined(route, message.partition, body, now_ms, offset)
        elif kind == "snapshot":
            effects = engine.on_snapshot(route, message.partition, body, now_ms)
        elif kind == "version":
            effects = engine.on_version(route, message.partition, body, now_ms, offset)
        else:
            effects = command_effects(engine, route, body, now_ms, offset)
            records += command_records(body, effects)
    records[:0] = effect_records(effects)
    await outputs.deliver(records)
    store = registry.get() if effects.statuses else None
    if store is not None:
        await asyncio.get_running_loop().run_in_executor(None, record_statuses, store, effects.statuses)
    routes_view.commit()
    evidence_view.commit()


def command_effects(engine: RouterEngine, route: str, body: dict[str, Any], now_ms: int, offset: int) -> Effects:
    command = body["command"]
    try:
        return engine.on_command(route, command, now_ms, offset=offset, until_ms=body.get("until_ms"))
    except Exception as exc:  # audit the command even when the router fails on it
        log.exception("router failed on command %s for route %s", command.get("command_id"), route)
        return Effects(result=CommandOutcome(False, "router_error", f"{type(exc).__name__}: {exc}"))


def effect_records(effects: Effects) -> list[Record]:
    """Weights (a tombstone for a removed route) and version events, encoded for their topics."""
    records: list[Record] = []
    for route, record in effects.weights:
        log.info("routing.weights %s epoch %s: %s", route, record and record["epoch"], record and record["reason"])
        value = None if record is None else serde.encode("routing.weights", record)
        records.append((WEIGHTS, route.encode("utf-8"), value))
    for event in effects.versions:
        records.append((VERSIONS, event["instance_id"].encode("utf-8"), serde.encode("model.versions", event)))
    return records


def command_records(body: dict[str, Any], effects: Effects) -> list[Record]:
    """The command's audit record and, if it was rejected, its dead letter with the original bytes."""
    command, source, outcome = body["command"], body["source"], effects.result
    assert outcome is not None, "the engine answers every command"
    key = envelope.unb64(source["key"])
    result = result_record(command, accepted=outcome.accepted, reason=outcome.reason, detail=outcome.detail)
    records: list[Record] = [(RESULTS, key, serde.encode("command.results", result))]
    if not outcome.accepted:
        letter = dead_letter(
            topic=source["topic"],
            partition=source["partition"],
            offset=source["offset"],
            key=key,
            value=envelope.unb64(source["value"]),
            reason=outcome.reason,
            detail=outcome.detail,
            source=SOURCE,
            max_bytes=settings.dead_letter_max_bytes,
        )
        records.append((DEADLETTER, letter["original_key"], serde.encode("deadletter", letter)))
    return records


def record_statuses(store: Any, changes: list[StatusChange]) -> None:
    for change in changes:
        record_status(store, change)


@app.timer(interval=settings.router_interval)
async def _tick() -> None:
    ticker.tick()
