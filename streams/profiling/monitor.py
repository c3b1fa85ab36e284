"""One route's profiling state for a stream processor: windows, build cadence, versions, changes.

The agent that owns a route (its input keyed by route, so every instance's peers are at hand):

1. ``due = profiler.add(joined_record)`` for every joined event of the route;
2. when a drift detector fires for an instance version: ``profiler.drift(instance, version,
   ts=..., detectors=[...])`` — its window is emptied and the next profile is rebuilt from
   post-drift events only;
3. when ``due`` names an instance version: ``build = profiler.start(*due, now_ms=...)`` takes an
   immutable snapshot of the newest window and reserves the profile version; ``profile =
   profiler.compute(build, attribution)`` is the heavy part (the slice search, tens of
   milliseconds; SHAP attribution, seconds) and reads nothing the stream changes, so it runs in an
   executor while events keep coming (``compute_build`` does it with the attribution, from
   picklable arguments: a worker process can run it); ``changes = profiler.finish(build, profile)`` back on the
   event loop; then send ``profile`` to ``profiles`` (key: instance id) and each change to
   ``profile.changes``. ``build`` does the three in a row.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from streams.profiling.changes import ChangeDetector
from streams.profiling.profile import ProfileConfig, build_profile, no_drift
from streams.profiling.shap_attribution import Attribution, attribute_errors
from streams.profiling.window import Frame, RouteWindows

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProfilerConfig:
    window_events: int = 2000  # labelled events kept per instance version
    build_every: int = 250  # labelled events between builds of an instance version
    min_events: int = 200  # events needed (after a drift clear too) before a build
    max_versions: int = 2  # windows kept per instance
    appear_after: int = 2  # consecutive builds before slice_appeared
    resolve_after: int = 3  # consecutive builds missing before slice_resolved
    shift_after: int = 2  # consecutive builds outside the reference interval before error_shift
    profile: ProfileConfig = field(default_factory=ProfileConfig)


@dataclass(frozen=True)
class Snapshot:
    """Immutable inputs of one build (safe to hand to an executor)."""

    instance_id: str
    model_version: int
    frame: Frame
    peers: Frame
    window: str


@dataclass(frozen=True)
class Build:
    """One profile build: what it needs, taken when it started (immutable, safe to hand to an executor)."""

    snapshot: Snapshot
    profile_version: int
    drift: dict[str, Any]
    rebuilt: bool
    now_ms: int


class RouteProfiler:
    """Profiles and profile changes of every instance version on one route.

    >>> from datetime import UTC, datetime
    >>> profiler = RouteProfiler("credit", ProfilerConfig(build_every=2, min_events=2))
    >>> rec = {"instance_id": "a", "model_version": 1, "features": {"x": 1.0}, "attributes": {},
    ...        "label": "y", "prediction": "y", "correct": True, "inference_ts": datetime(2026, 1, 1, tzinfo=UTC)}
    >>> profiler.add(rec), profiler.add(rec)
    (None, ('a', 1))
    >>> profile, changes = profiler.build("a", 1, now_ms=0)
    >>> profile["profile_version"], profile["events"], changes
    (1, 2, [])
    """

    def __init__(self, route: str, config: ProfilerConfig | None = None) -> None:
        self.route = route
        self.config = config or ProfilerConfig()
        cfg = self.config
        self.windows = RouteWindows(route, max_events=cfg.window_events, max_versions=cfg.max_versions)
        self.changes = ChangeDetector(
            appear_after=cfg.appear_after, resolve_after=cfg.resolve_after, shift_after=cfg.shift_after
        )
        self._since_build: dict[tuple[str, int], int] = {}
        self._versions: dict[str, int] = {}
        self._drift: dict[tuple[str, int], dict[str, Any]] = {}
        self._rebuild: set[tuple[str, int]] = set()

    def add(self, record: Mapping[str, Any]) -> tuple[str, int] | None:
        """Feed one ``joined.events`` record; returns ``(instance_id, model_version)`` when it is due a build
        (every ``build_every`` events from then on, whenever the build runs)."""
        key = (record["instance_id"], int(record["model_version"]))
        new = key not in self.windows
        window = self.windows.add_record(record)
        if new:
            self._forget_dropped(key[0])
        self._since_build[key] = self._since_build.get(key, 0) + 1
        if window.added >= self.config.min_events and self._since_build[key] >= self.config.build_every:
            self._since_build[key] = 0
            return key
        return None

    def _forget_dropped(self, instance_id: str) -> None:
        """Drop the state of an instance's versions whose windows ``RouteWindows`` let go."""
        for key in [k for k in self._since_build if k[0] == instance_id and k not in self.windows]:
            self._since_build.pop(key, None)
            self._drift.pop(key, None)
            self._rebuild.discard(key)
            self.changes.forget(*key)

    def drift(self, instance_id: str, model_version: int, *, ts: int, detectors: Sequence[str]) -> None:
        """A detector fired: empty the window; the next build is rebuilt from post-drift data."""
        key = (instance_id, model_version)
        self.windows.window(instance_id, model_version).clear(ts)
        self._since_build[key] = 0
        self._drift[key] = {"detected": True, "detected_ts": int(ts), "detectors": list(detectors)}
        self._rebuild.add(key)

    def saved(self) -> dict[str, Any]:
        """What must outlive this process (JSON-able): the last profile version per instance and the
        change detector's hysteresis, so a restart neither reuses a version nor announces a known slice again."""
        return {"versions": dict(self._versions), "changes": self.changes.to_dict()}

    def restore(self, saved: Mapping[str, Any]) -> None:
        """Continue from ``saved`` (see ``saved``)."""
        for instance_id, version in saved.get("versions", {}).items():
            self.restore_version(instance_id, version)
        self.changes.load(saved.get("changes", {}))

    def restore_version(self, instance_id: str, profile_version: int) -> None:
        """Continue an instance's profile versions after ``profile_version`` (e.g. read back from ``profiles``)."""
        self._versions[instance_id] = max(self._versions.get(instance_id, 0), int(profile_version))

    def snapshot(self, instance_id: str, model_version: int) -> Snapshot:
        window = self.windows.window(instance_id, model_version)
        return Snapshot(instance_id, model_version, window.frame(), self.windows.peers(instance_id), window.describe())

    def start(self, instance_id: str, model_version: int, *, now_ms: int, snapshot: Snapshot | None = None) -> Build:
        """Begin the next build of an instance version: its snapshot and profile version."""
        key = (instance_id, model_version)
        version = self._versions.get(instance_id, 0) + 1
        self._versions[instance_id] = version
        rebuilt = key in self._rebuild
        drift = self._drift.get(key)
        if drift is not None and not rebuilt:
            drift = {"detected": False, "detected_ts": drift["detected_ts"], "detectors": []}
        self._rebuild.discard(key)
        snap = snapshot or self.snapshot(instance_id, model_version)
        return Build(snap, version, drift or no_drift(), rebuilt, now_ms)

    def compute(self, build: Build, attribution: Attribution | None = None) -> dict[str, Any]:
        """The ``profiles`` record of ``build`` (reads only ``build`` and the configuration: thread-safe)."""
        return profile_record(self.route, self.config.profile, build, attribution)

    def finish(self, build: Build, profile: dict[str, Any]) -> list[dict[str, Any]]:
        """The ``profile.changes`` records the finished ``profile`` warrants."""
        return self.changes.update(profile, frame=build.snapshot.frame, rebuilt_after_drift=build.rebuilt)

    def build(
        self,
        instance_id: str,
        model_version: int,
        *,
        now_ms: int,
        attribution: Attribution | None = None,
        snapshot: Snapshot | None = None,
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Build the next profile of an instance version and the changes it warrants, in one go."""
        build = self.start(instance_id, model_version, now_ms=now_ms, snapshot=snapshot)
        profile = self.compute(build, attribution)
        return profile, self.finish(build, profile)


def profile_record(
    route: str, config: ProfileConfig, build: Build, attribution: Attribution | None = None
) -> dict[str, Any]:
    """The ``profiles`` record of ``build`` on ``route``."""
    snap = build.snapshot
    return build_profile(
        snap.frame,
        instance_id=snap.instance_id,
        route=route,
        model_version=snap.model_version,
        profile_version=build.profile_version,
        created_ts=build.now_ms,
        window=snap.window,
        peers=snap.peers,
        attribution=attribution,
        drift=build.drift,
        config=config,
    )


def compute_build(route: str, config: ProfileConfig, build: Build) -> dict[str, Any]:
    """The heavy part of a build, SHAP error attribution and the slice search, from picklable arguments.

    A failed attribution (shap raises many types on degenerate windows: one class, no errors)
    leaves the profile without it rather than failing the build.
    """
    try:
        attribution = attribute_errors(build.snapshot.frame, threads=1)
    except Exception:
        log.exception("SHAP attribution failed; profile built without it")
        attribution = None
    return profile_record(route, config, build, attribution)
