"""Workers' speed and effect on the Agrawal scenario: generator rows/s, fine-tune steps/s, slice gain per seed.

``python -m tests.bench.workers [--device cpu|cuda] [--seeds N]`` prints the table; ``run()``
returns its rows. The services run without Kafka (the reservoir is filled directly), so
the figures are the workers' own compute. One torch thread on CPU, as a worker runs
beside the streams worker.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from infra.registry.registry import ModelRegistry
from tests.workers import scenario
from tests.workers.conftest import profile_change
from workers.config import WorkerSettings
from workers.device import Runtime, configure
from workers.finetune.service import FineTuneService
from workers.generator.plugins import RoutePlugins
from workers.generator.service import GeneratorService
from workers.generator.trainer import GeneratorTrainer

WEAK, STRONG = "agrawal-a", "agrawal-b"


@dataclass(frozen=True)
class Trial:
    seed: int
    status: str
    generator_seconds: float
    rows: int
    finetune_seconds: float
    steps_per_second: float
    rows_per_second_sampling: float
    slice_old: float
    slice_new: float
    complement_old: float
    complement_new: float


class Scenario:
    """The models and traffic of the workers' done-when scenario, built once."""

    def __init__(self) -> None:
        torch.manual_seed(0)
        rows = scenario.draw(8000, seed=1)
        self.family = scenario.family(rows)
        self.weak = scenario.train(self.family, scenario.barely_saw_the_slice(rows), epochs=40, seed=0)
        self.strong = scenario.train(self.family, rows, epochs=40, seed=1)
        served = {WEAK: (self.weak, self.family), STRONG: (self.strong, self.family)}
        self.traffic = scenario.joined_events(scenario.draw(5000, seed=7), served, prefix="live")
        self.held_in, self.held_out = scenario.split_by_slice(scenario.draw(4000, seed=99))

    def trial(self, seed: int, runtime: Runtime) -> Trial:
        with tempfile.TemporaryDirectory() as tmp:
            s = WorkerSettings(
                data_dir=tmp,
                worker_seed=seed,
                label_functions={scenario.ROUTE: ["tests.workers.scenario:agrawal_rule"]},
            )
            registry = ModelRegistry(s.registry_location)
            for instance, module in ((WEAK, self.weak), (STRONG, self.strong)):
                registry.add_instance(instance, route=scenario.ROUTE, family=self.family)
                registry.add_version(instance, module, reason="deployed", status="promoted")
            generator = GeneratorService(
                s,
                registry=registry,
                trainer=GeneratorTrainer.from_settings(s, runtime),
                plugins=RoutePlugins.from_settings(s.label_functions, s.controls),
                runtime=runtime,
            )
            finetune = FineTuneService(s, registry=registry, runtime=runtime)
            for record in self.traffic:
                generator.observe(record)
                finetune.observe(record)
            started = time.perf_counter()
            [(_, batch)] = generator.handle(profile_change(WEAK))
            generated = time.perf_counter()
            [(_, event)] = finetune.handle(batch)
            finished = time.perf_counter()
            candidate = registry.load(WEAK, event["version"]).module.cpu()
            gen, _ = generator.trainer.get(scenario.ROUTE, self.family, [], [], np.zeros((0, 0)), 0)
            return Trial(
                seed=seed,
                status=event["status"],
                generator_seconds=generated - started,
                rows=len(batch["rows"]),
                finetune_seconds=finished - generated,
                steps_per_second=event["metrics"]["steps_per_second"],
                rows_per_second_sampling=_sampling_rate(gen),
                slice_old=scenario.accuracy(self.weak, self.family, self.held_in),
                slice_new=scenario.accuracy(candidate, self.family, self.held_in),
                complement_old=scenario.accuracy(self.weak, self.family, self.held_out),
                complement_new=scenario.accuracy(candidate, self.family, self.held_out),
            )


def _sampling_rate(gen: Any, n: int = 20_000) -> float:
    labels = np.arange(n) % len(gen.labels)
    started = time.perf_counter()
    gen.sample(labels, None, seed=0)
    return n / (time.perf_counter() - started)


def run(device: str = "cpu", seeds: int = 5) -> list[tuple[str, str]]:
    runtime = configure(device, threads=1)
    world = Scenario()
    trials = [world.trial(seed, runtime) for seed in range(seeds)]
    med = statistics.median
    name = torch.cuda.get_device_name(0) if runtime.device.type == "cuda" else "1 thread"
    accepted = [t for t in trials if t.status == "candidate"]
    rows = [
        ("device", f"{runtime.device} ({name})"),
        ("generator: train + targeted batch (median)", f"{med(t.generator_seconds for t in trials):.1f} s"),
        ("generator: labelled rows per batch (median)", f"{med(t.rows for t in trials):,.0f}"),
        (
            "generator: targeted rows/s incl. training",
            f"{med(t.rows / t.generator_seconds for t in trials):,.0f} rows/s",
        ),
        ("generator: sampling only", f"{med(t.rows_per_second_sampling for t in trials):,.0f} rows/s"),
        ("fine-tune: attempt incl. gate (median)", f"{med(t.finetune_seconds for t in trials):.2f} s"),
        ("fine-tune: optimiser steps/s (batch 32)", f"{med(t.steps_per_second for t in trials):,.0f} steps/s"),
        ("candidates passing the gate", f"{len(accepted)} of {len(trials)} seeds"),
    ]
    for t in trials:
        rows.append(
            (
                f"seed {t.seed}: {t.status}",
                f"slice {t.slice_old:.3f} -> {t.slice_new:.3f}, complement {t.complement_old:.3f} -> "
                f"{t.complement_new:.3f} ({100 * (t.complement_new - t.complement_old):+.2f} pt) on held-out real rows",
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    for name, value in run(args.device, args.seeds):
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
