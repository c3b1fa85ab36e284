"""The profiling agents: joined events re-keyed by route, then one ``RouteProfiler`` per route.

``profile_feeder`` forwards each joined event to an internal topic keyed by route, so every
instance of a route (and so its peers) reaches the same worker. ``profiler_agent`` keeps the
windows and drift detectors of its routes in memory, builds a profile every ``build_every``
events (SHAP attribution runs in a thread), and sends the profile to the compacted ``profiles``
topic and material changes to ``profile.changes``. Windows refill from the stream after a
restart; profile versions continue from the ``profiles`` topic.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from infra.topic_reader import TopicReader
from schemas import Serde
from streams.app import app, settings
from streams.deadletter import DeadLetters, Message, send
from streams.drift import InstanceDrift
from streams.join.logic import to_millis
from streams.profiling.monitor import ProfilerConfig, RouteProfiler
from streams.profiling.shap_attribution import attribute_errors
from streams.topology import joined_events, profile_changes, profile_input, profiles

log = logging.getLogger(__name__)
SOURCE = "streams.profiling"

serde = Serde.from_settings(settings)
dead_letters = DeadLetters(SOURCE, serde)


class Profilers:
    """Route profilers and drift detectors of this worker; versions restored from ``profiles`` once."""

    def __init__(self) -> None:
        self.routes: dict[str, RouteProfiler] = {}
        self.drift: dict[tuple[str, int], InstanceDrift] = {}
        self._versions: dict[str, int] | None = None

    async def route(self, route: str) -> RouteProfiler:
        if route not in self.routes:
            profiler = RouteProfiler(route, ProfilerConfig())
            for instance_id, version in (await self.latest_versions()).items():
                profiler.restore_version(instance_id, version)
            self.routes[route] = profiler
        return self.routes[route]

    def detector(self, instance_id: str, version: int) -> InstanceDrift:
        return self.drift.setdefault((instance_id, version), InstanceDrift())

    async def latest_versions(self) -> dict[str, int]:
        if self._versions is None:  # a blocking read of Kafka: off the event loop, which must keep heartbeating
            self._versions = await asyncio.get_running_loop().run_in_executor(None, read_profile_versions)
        return self._versions


profilers = Profilers()


def read_profile_versions(timeout: float = 10.0) -> dict[str, int]:
    """The latest profile version per instance on the compacted ``profiles`` topic."""
    versions: dict[str, int] = {}
    with TopicReader(settings, "profiles", serde=serde, name="profile-versions") as reader:
        try:
            for message in reader.read_to_end(timeout):
                if message.record is not None:
                    instance = message.record["instance_id"]
                    versions[instance] = max(versions.get(instance, 0), message.record["profile_version"])
        except TimeoutError as exc:
            log.warning("profile versions read in part: %s", exc)
    return versions


@app.agent(joined_events)
async def profile_feeder(stream: Any) -> None:
    async for event in stream.events():
        await dead_letters.guard(event.message, forward(event.message))


async def forward(message: Message) -> None:
    """Re-key a joined event by route, so every instance of a route reaches one profiler."""
    record = serde.decode("joined.events", message.value, partition=message.partition, offset=message.offset)
    await send(profile_input, key=record["route"].encode(), value=message.value)


@app.agent(profile_input)
async def profiler_agent(stream: Any) -> None:
    async for event in stream.events():
        await dead_letters.guard(event.message, handle(event.message))


async def handle(message: Message) -> None:
    record = serde.decode("joined.events", message.value, partition=message.partition, offset=message.offset)
    await observe(record)


async def observe(record: dict[str, Any]) -> None:
    profiler = await profilers.route(record["route"])
    instance_id, version = record["instance_id"], record["model_version"]
    fired = profilers.detector(instance_id, version).update(record["correct"], record["features"])
    if fired:
        log.info("drift on %s v%s: %s", instance_id, version, ", ".join(fired))
        profiler.drift(instance_id, version, ts=to_millis(record["feedback_ts"]), detectors=fired)
    due = profiler.add(record)
    if due is None:
        return
    snapshot = profiler.snapshot(*due)
    loop = asyncio.get_running_loop()
    attribution = await loop.run_in_executor(None, _attribute, snapshot.frame)
    profile, changes = profiler.build(*due, now_ms=int(time.time() * 1000), attribution=attribution, snapshot=snapshot)
    await send(profiles, key=profile["instance_id"].encode(), value=serde.encode("profiles", profile))
    for change in changes:
        log.info("profile change for %s: %s %s", change["instance_id"], change["kind"], change.get("detail", ""))
        await send(
            profile_changes, key=change["instance_id"].encode(), value=serde.encode("profile.changes", change)
        )


def _attribute(frame: Any) -> Any:
    """SHAP error attribution for a window; a failure leaves the profile without it rather than stopping."""
    try:
        return attribute_errors(frame, threads=1)
    except Exception:  # shap raises many types on degenerate windows (one class, no errors, ...)
        log.exception("SHAP attribution failed; profile built without it")
        return None
