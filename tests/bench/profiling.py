"""Weakness profiling cost: profile builds for a route of 3 instances x 2,000 labelled events.

``python -m tests.bench.profiling`` prints the table; ``run()`` returns its rows. Single-threaded
torch (as in the streams worker); the weak instance has the planted box of the tests.
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import torch

from streams.profiling import RouteProfiler, attribute_errors, build_profile
from tests.streams.profiling import simulate as sim

EVENTS = 2000


def _route() -> tuple[RouteProfiler, float]:
    instances = [sim.Instance("a", weaknesses=[(sim.planted_box, 0.8)]), sim.Instance("b"), sim.Instance("c")]
    profiler = RouteProfiler("credit")
    rng = np.random.default_rng(0)
    batches = [list(sim.records(rng, instance, EVENTS)) for instance in instances]
    started = time.perf_counter()
    for batch in batches:
        for record in batch:
            profiler.add(record)
    return profiler, len(instances) * EVENTS / (time.perf_counter() - started)


def _build_route(profiler: RouteProfiler, shap: bool) -> float:
    """Seconds to build the profiles of the route's 3 instances (SHAP attribution included or not)."""
    started = time.perf_counter()
    for instance in ("a", "b", "c"):
        snapshot = profiler.snapshot(instance, 1)
        attribution = attribute_errors(snapshot.frame) if shap else None
        build_profile(
            snapshot.frame,
            instance_id=instance,
            route="credit",
            model_version=1,
            profile_version=1,
            created_ts=0,
            window=snapshot.window,
            peers=snapshot.peers,
            attribution=attribution,
        )
    return time.perf_counter() - started


def run(repeats: int = 5, shap_repeats: int = 2) -> list[tuple[str, str]]:
    torch.set_num_threads(1)
    profiler, add_rate = _route()
    _build_route(profiler, shap=True)  # warm-up: imports, first torch calls
    plain = statistics.median(_build_route(profiler, shap=False) for _ in range(repeats))
    with_shap = statistics.median(_build_route(profiler, shap=True) for _ in range(shap_repeats))
    return [
        ("profiling: add joined events to route windows", f"{add_rate:,.0f} events/s"),
        (
            f"profiling: build 3 profiles of {EVENTS:,} events (slices, peers, summary)",
            f"{plain * 1000:,.0f} ms ({plain * 1000 / 3:,.0f} ms per instance)",
        ),
        (
            f"profiling: build 3 profiles of {EVENTS:,} events with SHAP (surrogate + DeepExplainer, 200+200 rows)",
            f"{with_shap * 1000:,.0f} ms ({with_shap * 1000 / 3:,.0f} ms per instance)",
        ),
    ]


if __name__ == "__main__":
    for name, value in run():
        print(f"| {name} | {value} |")
