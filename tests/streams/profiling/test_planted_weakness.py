"""The issue's done-when: a planted weakness is found, attributed to its instance, announced once.

A route of three instances over ``age``, ``income`` (numeric) and ``region`` (categorical), with
a rule-based truth and a 5 % base error rate for everyone. Instance ``a`` also misclassifies
80 % of the planted box ``25 <= age < 45 and income >= 100000``; its peers do not. Events come
in rounds of 250 per instance, a profile is built whenever the profiler says one is due (every
250 labelled events).
"""

from __future__ import annotations

import numpy as np
import pytest

from schemas import Serde
from schemas.slices import Slice
from streams.profiling.monitor import ProfilerConfig, RouteProfiler
from tests.streams.profiling import simulate as sim

ROUND = 250


def run(instances: list[sim.Instance], rounds: int, seed: int = 0):
    """Profiles and changes per instance, in build order; every record schema-checked."""
    serde = Serde()
    profiler = RouteProfiler("credit", ProfilerConfig(build_every=ROUND, min_events=ROUND))
    rng = np.random.default_rng(seed)
    profiles: dict[str, list[dict]] = {i.name: [] for i in instances}
    changes: dict[str, list[dict]] = {i.name: [] for i in instances}
    for round_ in range(rounds):
        for instance in instances:
            for record in sim.records(rng, instance, ROUND, start_ts=round_ * 10_000):
                if due := profiler.add(record):
                    profile, new = profiler.build(*due, now_ms=round_ * 10_000 + 9_999)
                    serde.encode("profiles", profile)
                    for change in new:
                        serde.encode("profile.changes", change)
                    profiles[due[0]].append(profile)
                    changes[due[0]] += new
    return profiles, changes


@pytest.fixture(scope="module")
def uniform():
    frame, age, income, region = sim.uniform_frame(np.random.default_rng(99), 20_000)
    return frame, sim.planted_box(age, income, region), sim.hard_corner(age, income, region)


def coverage(slice_record: dict, frame, region: np.ndarray) -> tuple[float, float]:
    return sim.precision_recall(Slice.from_predicate(slice_record["predicate"]).mask(frame), region)


def test_planted_weakness_is_the_top_slice_within_2000_events_and_announced_once(uniform):
    frame, planted, _ = uniform
    weak = sim.Instance("a", weaknesses=[(sim.planted_box, 0.8)])
    profiles, changes = run([weak, sim.Instance("b"), sim.Instance("c")], rounds=24)

    at_2000 = next(p for p in profiles["a"] if p["events"] == 2000)  # the 8th build: a's 2,000th event
    top = at_2000["slices"][0]
    precision, recall = coverage(top, frame, planted)
    assert precision >= 0.8 and recall >= 0.8, (top["description"], precision, recall)
    assert not top["hard_for_all"] and top["peer_error"] < 0.15 and top["error_low"] > top["peer_error"]

    # It stays the top slice while it is stable (16 more builds, the window sliding past 2,000).
    later = [p for p in profiles["a"] if p["profile_version"] >= at_2000["profile_version"]]
    assert len(later) == 17
    for profile in later:
        assert min(coverage(profile["slices"][0], frame, planted)) >= 0.8, profile["slices"][0]["description"]

    # Exactly one change for it over all 24 builds: the slice appeared, nothing else.
    assert [c["kind"] for c in changes["a"]] == ["slice_appeared"]
    assert min(coverage(changes["a"][0]["slice"], frame, planted)) >= 0.8
    assert changes["a"][0]["profile_version"] <= at_2000["profile_version"]

    # The peers have no such slice and announce nothing.
    for peer in ("b", "c"):
        assert changes[peer] == []
        for profile in profiles[peer]:
            for s in profile["slices"]:
                assert coverage(s, frame, planted)[1] < 0.5, s["description"]


def test_a_region_hard_for_everyone_is_flagged_and_ranked_after_the_weakness(uniform):
    frame, planted, corner = uniform
    hard = (sim.hard_corner, 0.6)
    instances = [
        sim.Instance("a", weaknesses=[(sim.planted_box, 0.8), hard]),
        sim.Instance("b", weaknesses=[hard]),
        sim.Instance("c", weaknesses=[hard]),
    ]
    profiles, changes = run(instances, rounds=8, seed=1)
    final = {name: p[-1] for name, p in profiles.items()}
    slices_a = final["a"]["slices"]
    assert min(coverage(slices_a[0], frame, planted)) >= 0.8 and not slices_a[0]["hard_for_all"]
    corner_a = [s for s in slices_a if min(coverage(s, frame, corner)) >= 0.7]
    assert len(corner_a) == 1 and corner_a[0]["hard_for_all"] and slices_a.index(corner_a[0]) > 0
    for peer in ("b", "c"):
        top = final[peer]["slices"][0]
        assert min(coverage(top, frame, corner)) >= 0.7 and top["hard_for_all"], top
    appeared = [c["slice"] for c in changes["b"] if c["kind"] == "slice_appeared"]
    assert len(appeared) == 1 and appeared[0]["hard_for_all"]
