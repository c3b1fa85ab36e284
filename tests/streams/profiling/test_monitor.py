"""The route profiler: build cadence, versions, drift rebuilds."""

from __future__ import annotations

import json

import numpy as np

from streams.profiling.monitor import ProfilerConfig, RouteProfiler
from tests.streams.profiling import simulate as sim


def feed(profiler: RouteProfiler, instance: sim.Instance, n: int, rng, start: int = 0) -> list[tuple[str, int]]:
    return [due for r in sim.records(rng, instance, n, start_ts=start) if (due := profiler.add(r))]


def test_builds_are_due_every_build_every_events_after_min_events():
    profiler = RouteProfiler("credit", ProfilerConfig(build_every=100, min_events=250))
    dues = []
    for i, record in enumerate(sim.records(np.random.default_rng(0), sim.Instance("a"), 600), 1):
        if due := profiler.add(record):
            dues.append(i)
            profiler.build(*due, now_ms=i)
    assert dues == [250, 350, 450, 550]  # once min_events are in, then every build_every events


def test_profile_versions_are_monotonic_per_instance_and_restorable():
    profiler = RouteProfiler("credit", ProfilerConfig(build_every=50, min_events=50))
    rng = np.random.default_rng(0)
    feed(profiler, sim.Instance("a"), 60, rng)
    profiler.restore_version("a", 41)
    assert profiler.build("a", 1, now_ms=0)[0]["profile_version"] == 42
    assert profiler.build("a", 1, now_ms=1)[0]["profile_version"] == 43


def test_a_profiler_restored_from_its_saved_state_continues_versions_and_announces_nothing_known():
    config = ProfilerConfig(build_every=500, min_events=500)
    weak = sim.Instance("a", weaknesses=[(sim.planted_box, 0.6)])
    first, rng = RouteProfiler("credit", config), np.random.default_rng(3)
    kinds = []
    for start in (0, 500, 1000):
        feed(first, weak, 500, rng, start)
        kinds += [c["kind"] for c in first.build("a", 1, now_ms=start)[1]]
    assert kinds.count("slice_appeared") == 1

    def after_restart(profiler: RouteProfiler) -> list[tuple[int, list[str]]]:
        out = []
        for start in (1500, 2000, 2500):
            feed(profiler, weak, 500, np.random.default_rng(start), start)
            profile, changes = profiler.build("a", 1, now_ms=start)
            out.append((profile["profile_version"], [c["kind"] for c in changes]))
        return out

    restored = RouteProfiler("credit", config)
    restored.restore(json.loads(json.dumps(first.saved())))  # as the table's changelog carries it
    assert after_restart(restored) == [(4, []), (5, []), (6, [])]
    forgetful = after_restart(RouteProfiler("credit", config))  # what a restart without the saved state does
    assert [v for v, _ in forgetful] == [1, 2, 3] and any("slice_appeared" in k for _, k in forgetful)


def test_drift_rebuilds_from_post_drift_data_and_says_so_once():
    profiler = RouteProfiler("credit", ProfilerConfig(build_every=250, min_events=250))
    rng = np.random.default_rng(4)
    weak = sim.Instance("a", weaknesses=[(sim.planted_box, 0.8)])
    changes = []
    for round_ in range(4):
        for due in feed(profiler, weak, 250, rng, start=round_ * 1000):
            changes += profiler.build(*due, now_ms=round_)[1]
    assert [c["kind"] for c in changes] == ["slice_appeared"]
    profiler.drift("a", 1, ts=4000, detectors=["adwin:error"])
    assert len(profiler.windows.window("a", 1)) == 0
    moved = sim.Instance("a", weaknesses=[(sim.hard_corner, 0.9)])  # after the drift the weakness moved
    after = []
    for round_ in range(4, 10):
        for due in feed(profiler, moved, 250, rng, start=round_ * 1000):
            profile, new = profiler.build(*due, now_ms=round_)
            after.append((profile, new))
    first = after[0][0]
    assert first["drift"] == {"detected": True, "detected_ts": 4000, "detectors": ["adwin:error"]}
    assert first["events"] == 250 and "post-drift" in first["window"]
    drift_changes = [c for _, cs in after for c in cs if c["kind"] == "drift"]
    assert len(drift_changes) == 1 and drift_changes[0]["rebuilt_after_drift"]
    assert after[1][0]["drift"]["detected"] is False and after[1][0]["drift"]["detected_ts"] == 4000
    kinds = [c["kind"] for _, cs in after for c in cs]
    assert kinds.count("slice_resolved") == 1 and kinds.count("slice_appeared") == 1
    resolved = next(c for _, cs in after for c in cs if c["kind"] == "slice_resolved")
    assert "income" in resolved["slice"]["description"]


def test_state_of_versions_whose_windows_are_dropped_is_forgotten():
    profiler = RouteProfiler("credit", ProfilerConfig(build_every=50, min_events=50, max_versions=2))
    rng = np.random.default_rng(0)
    for version in (1, 2, 3):
        for record in sim.records(rng, sim.Instance("a"), 60, version=version):
            if due := profiler.add(record):
                profiler.build(*due, now_ms=0)
    assert sorted(profiler.windows.keys) == [("a", 2), ("a", 3)]
    assert profiler.changes.state("a", 1) is None and profiler.changes.state("a", 2) is not None
