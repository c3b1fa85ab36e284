"""The profiling agent: one ``RouteProfiler`` per route.

``profiler_agent`` reads the joined events the join sends keyed by route, so every instance of
a route (and so its peers) reaches the same worker. It keeps the
windows and drift detectors of its routes in memory and, every ``build_every`` events, starts a
profile build off the event path (``Builds``: the slice search and SHAP attribution run in a
process of their own, so they take neither the event loop nor its interpreter lock; one build
per route at a time, a build due meanwhile coalesced onto the newest window); each build sends
its profile to the compacted ``profiles`` topic and material changes to ``profile.changes``.
Profile versions and change detection live in the ``profiling-state`` table, so they move with
the route's partition and survive a restart (a known slice is not announced again, a version
never repeats); windows and drift detectors refill from the stream.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import time
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import Any

from faust.types import TP

from infra.topic_reader import TopicReader
from schemas import Serde
from streams import stages, topology
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
    """Route profilers and drift detectors of the routes whose partitions this worker owns.

    A route's profile versions and change detection continue from the ``profiling-state`` table
    (its changelog moves them with the route's partition), and from the ``profiles`` topic read once
    (deployments from before the table); windows and drift detectors refill from the stream.
    """

    def __init__(self) -> None:
        self.routes: dict[str, RouteProfiler] = {}
        self.partitions: dict[str, int] = {}
        self.drift: dict[tuple[str, int], InstanceDrift] = {}
        self._versions: dict[str, dict[str, int]] | None = None

    async def route(self, route: str, partition: int) -> RouteProfiler:
        if route not in self.routes:
            profiler = RouteProfiler(route, ProfilerConfig())
            saved = profiling_state.get(route.encode())
            if saved is not None:
                profiler.restore(saved)
            for instance_id, version in (await self.latest_versions()).get(route, {}).items():
                profiler.restore_version(instance_id, version)
            self.routes[route], self.partitions[route] = profiler, partition
        return self.routes[route]

    def owns(self, profiler: RouteProfiler) -> bool:
        """Whether ``profiler`` is still the one of its route here (not moved to another worker meanwhile)."""
        return self.routes.get(profiler.route) is profiler

    def keep(self, partitions: set[int]) -> None:
        """Forget the routes of every other partition: another worker owns them now, and if one comes
        back here its state is read again from the table, which that worker kept up to date."""
        for route in [r for r, p in self.partitions.items() if p not in partitions]:
            profiler = self.routes.pop(route)
            del self.partitions[route]
            for key in profiler.windows.keys:
                self.drift.pop(key, None)

    def detector(self, instance_id: str, version: int) -> InstanceDrift:
        return self.drift.setdefault((instance_id, version), InstanceDrift())

    async def latest_versions(self) -> dict[str, dict[str, int]]:
        if self._versions is None:  # a blocking read of Kafka: off the event loop, which must keep heartbeating
            self._versions = await asyncio.get_running_loop().run_in_executor(None, read_profile_versions)
        return self._versions


profiling_state = topology.profiling_state()
profilers = Profilers()


@app.on_partitions_assigned.connect  # type: ignore[arg-type]
async def _keep_owned_routes(app: Any, assigned: set[TP], **kwargs: Any) -> None:
    profilers.keep({tp.partition for tp in assigned if tp.topic == JOINED_BY_ROUTE})


def read_profile_versions(timeout: float = 10.0) -> dict[str, dict[str, int]]:
    """Route -> the latest profile version per instance on the compacted ``profiles`` topic."""
    versions: dict[str, dict[str, int]] = {}
    with TopicReader(settings, "profiles", serde=serde, name="profile-versions") as reader:
        try:
            for message in reader.read_to_end(timeout):
                if message.record is not None:
                    route = versions.setdefault(message.record["route"], {})
                    instance = message.record["instance_id"]
                    route[instance] = max(route.get(instance, 0), message.record["profile_version"])
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
    await observe(record, message.partition)


async def observe(record: dict[str, Any], partition: int) -> None:
    profiler = await profilers.route(record["route"], partition)
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
    profiling_state[profiler.route.encode()] = profiler.saved()  # the version is taken, even if this build fails
    loop = asyncio.get_running_loop()
    profile = await loop.run_in_executor(builds.executor, compute_build, profiler.route, profiler.config.profile, build)
    if not profilers.owns(profiler):
        log.info("route %s moved to another worker during a build of %s v%s; dropped", profiler.route, *key)
        return
    changes = profiler.finish(build, profile)
    profiling_state[profiler.route.encode()] = profiler.saved()
    await app.producer.flush()  # the state is in its changelog before a change it led to goes out
    await send(profiles, key=profile["instance_id"].encode(), value=serde.encode("profiles", profile))
    for change in changes:
        log.info("profile change for %s: %s %s", change["instance_id"], change["kind"], change.get("detail", ""))
        await send(profile_changes, key=change["instance_id"].encode(), value=serde.encode("profile.changes", change))
