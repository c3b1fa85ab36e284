"""The profiling agent: one ``RouteProfiler`` per route.

``profiler_agent`` reads the joined events the join sends keyed by route, so every instance of
a route (and so its peers) reaches the same worker. It keeps the
windows and drift detectors of its routes in memory and, every ``build_every`` events, starts a
profile build off the event path (``Builds``: the slice search and SHAP attribution run in a
process of their own, so they take neither the event loop nor its interpreter lock; one build
per route at a time, a build due meanwhile coalesced onto the newest window); each build sends
its profile to the compacted ``profiles`` topic and material changes to ``profile.changes``.
Windows refill from the stream after a restart; profile versions continue from the ``profiles``
topic.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import time
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import Any

from infra.topic_reader import TopicReader
from schemas import Serde
from streams import stages
from streams.app import app, settings
from streams.deadletter import DeadLetters, Message, send
from streams.drift import InstanceDrift
from streams.join.logic import to_millis
from streams.profiling.monitor import ProfilerConfig, RouteProfiler, compute_build
from streams.topology import JOINED_BY_ROUTE, joined_by_route, profile_changes, profiles

log = logging.getLogger(__name__)
SOURCE = "streams.profiling"

serde = Serde.from_settings(settings)
dead_letters = DeadLetters(SOURCE, serde)
lag = stages.stage("profiling", JOINED_BY_ROUTE)


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


@app.agent(joined_by_route)
async def profiler_agent(stream: Any) -> None:
    async for event in stream.events():
        await dead_letters.guard(event.message, handle(event.message))
        stages.processed(lag, event.message)


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
    if due is not None:
        builds.request(profiler, due)


class Builds:
    """Profile builds off the event path: at most one per route at a time, the heavy part in an executor.

    A build due while its route's build runs waits for it and then starts from the newest window;
    requests for the same instance version that pile up meanwhile are one build (``coalesced``
    counts the others), so a slow build makes profiles less frequent, never late or queued.
    A route's builds take at most ``share`` of its time: after a build, the next one waits
    (its event path keeps the processor meanwhile; the wait makes its window newer).
    """

    def __init__(self, share: float = 1.0, executor: Executor | None = None) -> None:
        self.share = share
        self.executor = executor  # None: the event loop's default (threads)
        self.not_before: dict[str, float] = {}  # route -> monotonic time its next build may start
        self.running: dict[str, asyncio.Task[None]] = {}
        self.pending: dict[str, dict[tuple[str, int], None]] = {}  # route -> instance versions due, in order
        self.coalesced = 0

    def request(self, profiler: RouteProfiler, key: tuple[str, int]) -> None:
        route = profiler.route
        if route not in self.running:
            self.running[route] = asyncio.get_running_loop().create_task(self._run(profiler, key))
            return
        waiting = self.pending.setdefault(route, {})
        if key in waiting:
            self.coalesced += 1
        waiting[key] = None

    async def _run(self, profiler: RouteProfiler, key: tuple[str, int] | None) -> None:
        route = profiler.route
        try:
            while key is not None:
                await asyncio.sleep(max(0.0, self.not_before.get(route, 0.0) - time.monotonic()))
                key = self._newest(route, key)
                began = time.monotonic()
                try:
                    await build_and_send(profiler, key)
                except Exception:  # one failed build must not stop the route's next ones
                    log.exception("profile build for %s v%s failed", *key)
                ended = time.monotonic()
                self.not_before[route] = ended + (ended - began) * (1 - self.share) / self.share
                key = self._next(route)
        finally:
            del self.running[route]

    def _newest(self, route: str, key: tuple[str, int]) -> tuple[str, int]:
        """``key``, unless it came due again while waiting: then that request is the same build."""
        waiting = self.pending.get(route, {})
        if key in waiting:
            del waiting[key]
            self.coalesced += 1
        return key

    def _next(self, route: str) -> tuple[str, int] | None:
        waiting = self.pending.get(route)
        if not waiting:
            return None
        key = next(iter(waiting))
        del waiting[key]
        return key

    async def idle(self) -> None:
        """Wait until no build runs (for tests and shutdown)."""
        while self.running:
            await asyncio.gather(*self.running.values(), return_exceptions=True)


# One process for the heavy part, started on the first build (spawned: the worker has threads).
builds = Builds(
    settings.profile_build_share,
    ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")),
)


async def build_and_send(profiler: RouteProfiler, key: tuple[str, int]) -> None:
    build = profiler.start(*key, now_ms=int(time.time() * 1000))
    loop = asyncio.get_running_loop()
    profile = await loop.run_in_executor(builds.executor, compute_build, profiler.route, profiler.config.profile, build)
    changes = profiler.finish(build, profile)
    await send(profiles, key=profile["instance_id"].encode(), value=serde.encode("profiles", profile))
    for change in changes:
        log.info("profile change for %s: %s %s", change["instance_id"], change["kind"], change.get("detail", ""))
        await send(profile_changes, key=change["instance_id"].encode(), value=serde.encode("profile.changes", change))
