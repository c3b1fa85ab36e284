"""Profiles are valid ``profiles`` records and carry what they were given."""

from __future__ import annotations

import numpy as np
import pytest

from schemas import Serde
from streams.profiling.profile import build_profile
from streams.profiling.shap_attribution import Attribution
from streams.profiling.window import Frame, RouteWindows
from tests.streams.profiling import simulate as sim


@pytest.fixture(scope="module")
def serde() -> Serde:
    return Serde()


def route_with(weak: sim.Instance, n: int = 1500) -> RouteWindows:
    rng = np.random.default_rng(2)
    route = RouteWindows("credit")
    for instance in (weak, sim.Instance("b"), sim.Instance("c")):
        for record in sim.records(rng, instance, n):
            route.add_record(record)
    return route


def test_profile_is_schema_valid_and_complete(serde):
    route = route_with(sim.Instance("a", weaknesses=[(sim.planted_box, 0.8)]))
    window = route.window("a", 1)
    drift = {"detected": True, "detected_ts": 123, "detectors": ["adwin:error"]}
    attribution = Attribution({"age": 0.3, "income": 0.2, "region": -0.1}, "test")
    profile = build_profile(
        window.frame(),
        instance_id="a",
        route="credit",
        model_version=1,
        profile_version=7,
        created_ts=1_767_225_600_000,
        window=window.describe(),
        peers=route.peers("a"),
        attribution=attribution,
        drift=drift,
    )
    decoded = serde.decode("profiles", serde.encode("profiles", profile))
    assert decoded["profile_version"] == 7 and decoded["events"] == 1500
    assert profile["overall_error_low"] < profile["overall_error"] < profile["overall_error_high"]
    assert 1 <= len(profile["slices"]) <= 10
    top = profile["slices"][0]
    assert top["peer_error"] < 0.2 and not top["hard_for_all"] and top["lift"] > 3
    assert profile["shap_attribution"] == attribution.scores
    assert {s["feature"] for s in profile["error_distribution"]} == {"age", "income"}
    assert profile["confusion_pairs"][0]["count"] >= profile["confusion_pairs"][-1]["count"]
    assert profile["drift"] == drift


def test_empty_and_error_free_windows_still_make_valid_profiles(serde):
    for frame in (Frame.concat([]), route_with(sim.Instance("a", base_error=0.0), 300).window("a", 1).frame()):
        profile = build_profile(
            frame, instance_id="a", route="credit", model_version=1, profile_version=1, created_ts=0, window="w"
        )
        serde.encode("profiles", profile)
        assert profile["slices"] == [] and profile["overall_error"] == 0.0 and not profile["drift"]["detected"]
