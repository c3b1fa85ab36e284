"""The profiler agent in Faust's test context: a slow profile build never holds back the event path."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from schemas import Serde
from streams.profiling import agent as profiling
from streams.topology import joined_by_route, profiles
from tests.streams.harness import AgentHarness

SERDE = Serde()


def joined(i: int) -> bytes:
    now = datetime.now(UTC)
    record = {
        "request_id": f"slow-{i}",
        "route": "slow",
        "instance_id": "slow-a",
        "model_version": 1,
        "inference_ts": now,
        "feedback_ts": now,
        "features": {"x": float(i % 10)},
        "attributes": {},
        "prediction": "yes",
        "probabilities": {},
        "label": "yes" if i % 3 else "no",
        "correct": bool(i % 3),
    }
    return SERDE.encode("joined.events", record)


def test_events_keep_flowing_while_a_build_is_stuck(monkeypatch: pytest.MonkeyPatch) -> None:
    release, started = threading.Event(), threading.Event()
    real = profiling.compute_build

    def stuck(route: str, config: Any, build: Any) -> dict[str, Any]:
        started.set()
        assert release.wait(60), "the test never released the build"
        return real(route, config, build)

    monkeypatch.setattr(profiling, "compute_build", stuck)
    monkeypatch.setattr(profiling, "read_profile_versions", dict)
    monkeypatch.setattr(profiling, "profilers", profiling.Profilers())
    monkeypatch.setattr(profiling, "builds", profiling.Builds())
    topic = joined_by_route.get_topic_name()

    async def main() -> tuple[AgentHarness, int, int]:
        async with AgentHarness(profiling.profiler_agent) as harness:
            for i in range(1_000):  # builds fall due at 250, 500, 750 and 1,000
                await harness.put(topic, b"slow", joined(i))  # each put waits until the agent processed it
            waiting, coalesced = len(profiling.builds.pending.get("slow", {})), profiling.builds.coalesced
            assert started.is_set() and not harness.sent, "the first build is stuck and nothing was sent"
            release.set()
            await profiling.builds.idle()
        return harness, waiting, coalesced

    harness, waiting, coalesced = asyncio.run(main())
    sent = harness.decoded(profiles.get_topic_name(), SERDE, "profiles")
    assert (waiting, coalesced) == (1, 2)  # three builds came due behind the stuck one: one ran after it
    assert [p["profile_version"] for p in sent] == [1, 2]
    assert [p["events"] for p in sent] == [250, 1_000]  # the second build used the newest window


def test_a_routes_builds_take_at_most_their_share_of_its_time(monkeypatch: pytest.MonkeyPatch) -> None:
    spans: list[tuple[float, float]] = []  # (start, end) of each build's heavy part
    real = profiling.compute_build

    def timed(route: str, config: Any, build: Any) -> dict[str, Any]:
        began = time.monotonic()
        time.sleep(0.2)  # a build of at least 0.2 s
        profile = real(route, config, build)
        spans.append((began, time.monotonic()))
        return profile

    monkeypatch.setattr(profiling, "compute_build", timed)
    monkeypatch.setattr(profiling, "read_profile_versions", dict)
    monkeypatch.setattr(profiling, "profilers", profiling.Profilers())
    monkeypatch.setattr(profiling, "builds", profiling.Builds(share=0.25))
    topic = joined_by_route.get_topic_name()

    async def main() -> None:
        async with AgentHarness(profiling.profiler_agent) as harness:
            for i in range(1_000):
                await harness.put(topic, b"slow", joined(i))
            await profiling.builds.idle()  # builds due meanwhile wait their turn, then run

    asyncio.run(main())
    assert len(spans) >= 2
    for (began, ended), (following, _) in itertools.pairwise(spans):
        assert following - ended >= 3 * (ended - began) * 0.99  # share 1/4: three times its length between
