"""insitu against what a practitioner would try instead, on the Agrawal scenario, with the same budget and gate.

The weak instance ``agrawal-a`` barely saw ``age >= 60``; its strong peer ``agrawal-b`` saw
everything; both serve real traffic that comes back as joined events. The two models and
the held-out rows are shared; each seed draws its own traffic (seed 0: the workers
benchmark's), worker seed and fresh slice rows. Six strategies:

1. **no action**: the weak instance as it is;
2. **real slice rows**: the reservoir's real labelled rows inside the slice (train part,
   rows the weak instance gets wrong first), as many as insitu's synthetic rows where
   the reservoir has them (fewer otherwise: the table says how many), upweighted so
   their total weight equals the synthetic batch's (they are in the replay as well);
3. **untargeted synthetic**: as many rows from the same generator, drawn from its prior
   with the classes of all real rows (not aimed at the slice), labelled by the same
   sources (rule, strong peer, conditioning; rows they disagree on dropped);
4. **replay only**: the replayed real rows alone (their in-slice rows keep true labels);
5. **insitu**: ``GeneratorService`` + ``FineTuneService``, exactly as the workers run;
6. **retrain (ceiling)**: a model trained from scratch like the original, on the weak
   instance's original rows plus as many fresh real labelled rows from the slice as
   insitu generated (another draw of the Agrawal generator).

Strategies 2-4 go through the fine-tune worker's own steps (``data.replay`` with the
same replayed rows and distillation outside the slice, ``data.anchors`` on their own
target rows, ``fine_tune`` with the same epochs, learning rate, clipping and per-epoch
validation rollback, ``evaluate_gate`` with the same policy on the same gate rows).
The ceiling trains like the original (40 epochs, no rollback) and is judged by the same
gate. Everything is scored on fresh held-out real rows drawn with their own seed;
intervals come from ``tests.bench.bootstrap`` (seeds and held-out rows resampled).

Compute is this process's CPU seconds (one torch thread; wall seconds beside it): the
generator's training, sampling and labelling and the fine-tune attempt with its gate, or
the retraining and its gate. Held-out scoring is not counted. ``INSITU_*`` variables
change the workers' settings here as they do in the workers.

``python -m tests.bench.alternatives [--seeds N]`` prints the tables; ``run()`` returns rows.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch

from infra.registry.family import ModelFamily
from infra.registry.registry import LoadedModel, ModelRegistry
from schemas.slices import Slice, in_any
from tests.bench.bootstrap import Estimate, PairedBootstrap
from tests.workers import scenario
from tests.workers.conftest import profile_change
from workers.config import WorkerSettings
from workers.device import Runtime, configure
from workers.finetune import data
from workers.finetune.gate import GatePolicy, evaluate_gate
from workers.finetune.recipe import fine_tune_copy
from workers.finetune.service import FineTuneService
from workers.finetune.train import TrainingData
from workers.generator import targeting
from workers.generator.labels import ConditioningSource, LabelSource, RuleSource, label_shares, resolve
from workers.generator.model import TabularGenerator
from workers.generator.plugins import RoutePlugins
from workers.generator.service import GeneratorService
from workers.generator.trainer import GeneratorTrainer
from workers.reservoir import RealRow, Split, usable

WEAK, STRONG = "agrawal-a", "agrawal-b"
NONE, REAL, UNTARGETED, REPLAY, INSITU, CEILING = (
    "no action",
    "real slice rows",
    "untargeted synthetic",
    "replay only",
    "insitu (targeted synthetic)",
    "retrain from scratch (ceiling)",
)
STRATEGIES = (NONE, REAL, UNTARGETED, REPLAY, INSITU, CEILING)
BASELINES = (REAL, UNTARGETED, REPLAY, CEILING)
HELD_OUT_ROWS = 12_000
TRAFFIC_ROWS = 5000
AIM_GAP_SHARE, AIM_COMPUTE_SHARE, AIM_COMPLEMENT_LOSS = 0.80, 0.05, 0.5


@dataclass(frozen=True)
class Cost:
    """Seconds of this process's CPU time (robust to other load on the machine) and of wall-clock time."""

    cpu: float
    wall: float

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.cpu + other.cpu, self.wall + other.wall)

    def __sub__(self, other: Cost) -> Cost:
        return Cost(self.cpu - other.cpu, self.wall - other.wall)


ZERO = Cost(0.0, 0.0)


class Clock:
    """``lap()``: the cost since the clock started or since the last lap."""

    def __init__(self) -> None:
        self._last = Cost(time.process_time(), time.perf_counter())

    def lap(self) -> Cost:
        now = Cost(time.process_time(), time.perf_counter())
        spent, self._last = now - self._last, now
        return spent


@dataclass(frozen=True)
class Outcome:
    """One strategy on one seed: per held-out row correctness, its cost, and what the gate said."""

    correct: np.ndarray  # (held-out rows,) bool
    cost: Cost
    gate: bool | None  # None: nothing to judge (no action)
    target_rows: int  # rows the strategy adds to the replay (ceiling: fresh slice rows)
    epochs_kept: float  # fine-tune epochs kept after rollback (ceiling: its training epochs)
    generator: Cost = field(default_factory=lambda: ZERO)  # the part of ``cost`` spent training the generator


class World:
    """What every seed shares: the deployed models, the original training rows, the held-out rows."""

    def __init__(self, held_out: int = HELD_OUT_ROWS) -> None:
        torch.manual_seed(0)
        rows = scenario.draw(8000, seed=1)
        self.family = scenario.family(rows)
        self.original = scenario.barely_saw_the_slice(rows)
        self.weak = scenario.train(self.family, self.original, epochs=40, seed=0)
        self.strong = scenario.train(self.family, rows, epochs=40, seed=1)
        test = scenario.draw(held_out, seed=99)
        self.x = self.family.encode_batch([r for r, _ in test])
        self.y = torch.tensor([self.family.label_index(label) for _, label in test])
        self.in_slice = scenario.SLICE.mask([r for r, _ in test])
        self.old_correct = self.correct(self.weak)

    @torch.no_grad()
    def correct(self, module: torch.nn.Module) -> np.ndarray:
        module.eval()
        return (module.cpu()(self.x).argmax(dim=1) == self.y).numpy()


def trial(world: World, seed: int, runtime: Runtime) -> dict[str, Outcome]:
    """Every strategy on one seed: its own traffic, worker seed and fresh slice rows."""
    served = {WEAK: (world.weak, world.family), STRONG: (world.strong, world.family)}
    traffic = scenario.joined_events(scenario.draw(TRAFFIC_ROWS, seed=7 + 100 * seed), served, prefix=f"s{seed}")
    with tempfile.TemporaryDirectory() as tmp:
        s = WorkerSettings(
            data_dir=tmp, worker_seed=seed, label_functions={scenario.ROUTE: ["tests.workers.scenario:agrawal_rule"]}
        )
        registry = ModelRegistry(s.registry_location)
        for instance, module in ((WEAK, world.weak), (STRONG, world.strong)):
            registry.add_instance(instance, route=scenario.ROUTE, family=world.family)
            registry.add_version(instance, module, reason="deployed", status="promoted")
        generator = GeneratorService(
            s,
            registry=registry,
            trainer=GeneratorTrainer.from_settings(s, runtime),
            plugins=RoutePlugins.from_settings(s.label_functions, s.controls),
            runtime=runtime,
        )
        finetune = FineTuneService(s, registry=registry, runtime=runtime)
        for record in traffic:
            generator.observe(record)
            finetune.observe(record)
        change = profile_change(WEAK)

        # insitu, as the workers run it; the generator is trained first on its own so its cost is known
        clock = Clock()
        gen = _train_generator(generator, world)
        train_cost = clock.lap()
        [(_, batch)] = generator.handle(change)
        [(_, event)] = finetune.handle(batch)
        insitu_cost = train_cost + clock.lap()
        assert batch["quality"]["generator_epochs"] == 0, "the service retrained the generator"
        insitu = registry.load(WEAK, event["version"]).module
        outcomes = {
            NONE: Outcome(world.old_correct, ZERO, None, 0, 0.0),
            INSITU: Outcome(
                world.correct(insitu),
                insitu_cost,
                event["status"] == "candidate",
                len(batch["rows"]),
                event["metrics"]["epochs_kept"],
                train_cost,
            ),
        }

        # the baselines through the fine-tune worker's own steps, with insitu's replay
        old = registry.load(WEAK, 1)
        split = finetune.reservoir.split(scenario.ROUTE, s.validation_share, s.gate_share)
        slices = [Slice.from_record(p) for p in batch["slices"]]
        budget = len(batch["rows"])
        cautious = Cautious(s, finetune.policy, runtime, old, split, slices, round(s.replay_ratio * budget))

        clock = Clock()
        target, rows = real_slice_rows(split.train, old, slices, budget)
        outcomes[REAL] = cautious.outcome(world, target, rows, clock.lap())

        clock = Clock()
        untargeted = untargeted_batch(generator, gen, change, budget, split.train, old.family, seed)
        target, rows = data.synthetic(untargeted, old.family), data.synthetic_rows(untargeted)
        outcome = cautious.outcome(world, target, rows, train_cost + clock.lap())
        outcomes[UNTARGETED] = replace(outcome, generator=train_cost)

        empty = TrainingData.of(torch.zeros(0, old.family.width), torch.zeros(0), classes=len(old.family.labels))
        outcomes[REPLAY] = cautious.outcome(world, empty, [], ZERO)

        fresh = fresh_slice_rows(budget, seed=500 + seed)
        clock = Clock()
        retrained = scenario.train(world.family, [*world.original, *fresh], epochs=40, seed=seed)
        passed = cautious.gate(retrained)
        cost = clock.lap()
        outcomes[CEILING] = Outcome(world.correct(retrained), cost, passed, len(fresh), 40.0)
        return outcomes


class Cautious:
    """The fine-tune worker's recipe and gate (``workers.finetune.recipe``) for any target rows, no registry."""

    def __init__(
        self,
        s: WorkerSettings,
        policy: GatePolicy,
        runtime: Runtime,
        old: LoadedModel,
        split: Split,
        slices: list[Slice],
        replay_rows: int,
    ) -> None:
        self.s, self.policy, self.runtime, self.old, self.split, self.slices = s, policy, runtime, old, split, slices
        self.replay_rows = replay_rows
        self.validation, _ = data.real(split.validation, old.family)
        self.gate_data, gate_rows = data.real(split.gate, old.family)
        self.gate_slice = in_any(slices, gate_rows)

    def outcome(self, world: World, target: TrainingData, rows: Sequence[data.Row], before: Cost) -> Outcome:
        """Fine-tune a copy of the old version on ``target`` + replay + anchors; ``before``: the cost of the rows."""
        clock = Clock()
        attempt = fine_tune_copy(
            self.old,
            target,
            rows,
            real=self.split.train,
            validation=self.validation,
            slices=self.slices,
            replay_rows=self.replay_rows,
            settings=self.s,
            runtime=self.runtime,
        )
        passed = self.gate(attempt.module)
        cost = before + clock.lap()
        return Outcome(world.correct(attempt.module), cost, passed, len(target), float(attempt.result.epochs_kept))

    @torch.no_grad()
    def gate(self, module: torch.nn.Module) -> bool:
        """The publication gate, old against ``module`` on the reservoir's gate rows."""
        old_correct = _correct(self.old.module, self.gate_data)
        return evaluate_gate(old_correct, _correct(module, self.gate_data), self.gate_slice, self.policy).passed


def real_slice_rows(
    train: Sequence[RealRow], old: LoadedModel, slices: Sequence[Slice], budget: int
) -> tuple[TrainingData, list[data.Row]]:
    """Up to ``budget`` real rows inside the slices (those the old version gets wrong first), upweighted.

    Each row weighs ``budget / rows`` (at least 1), so the rows weigh as much in all as a
    synthetic batch of ``budget`` rows with full confidence.
    """
    family = old.family
    encoded, raw = data.real(train, family)
    inside = np.flatnonzero(in_any(slices, raw))
    wrong = _correct(old.module, encoded.take(torch.as_tensor(inside, dtype=torch.long))) == 0
    chosen = np.concatenate([inside[wrong], inside[~wrong]])[:budget]
    index = torch.as_tensor(np.sort(chosen), dtype=torch.long)
    picked = encoded.take(index)
    weight = max(1.0, budget / max(1, len(picked)))
    target = TrainingData.of(picked.x, picked.y, torch.full((len(picked),), weight), classes=len(family.labels))
    return target, [raw[int(i)] for i in index]


def untargeted_batch(
    service: GeneratorService,
    gen: TabularGenerator,
    change: dict[str, Any],
    budget: int,
    train: Sequence[RealRow],
    family: ModelFamily,
    seed: int,
) -> dict[str, Any]:
    """``budget`` labelled rows from the generator's prior (classes as in all real rows), as a batch record."""
    rows = usable(list(train), family)
    rng = np.random.default_rng(seed)
    shares = label_shares([r.label for r in rows], family.labels)
    sample = targeting.from_prior(gen, int(budget * 1.5), shares, np.zeros((0, 0)), rng)
    sources: list[LabelSource] = [
        RuleSource(name, function, family.labels) for name, function in service.plugins.label_functions(scenario.ROUTE)
    ]
    sources += service._teachers(change["instance_id"], scenario.ROUTE, change["slice"])
    sources.append(ConditioningSource(gen))
    resolution = resolve(sources, sample)
    kept = [(i, d) for i, d in enumerate(resolution.decisions) if d is not None][:budget]
    return {
        "batch_id": f"untargeted-{seed}",
        "instance_id": change["instance_id"],
        "rows": [
            {
                "features": dict(sample.rows[i][0]),
                "attributes": dict(sample.rows[i][1]),
                "label": d.label,
                "confidence": d.confidence,
            }
            for i, d in kept
        ],
    }


def fresh_slice_rows(n: int, seed: int) -> list[tuple[scenario.Row, str]]:
    """``n`` new real labelled rows inside the slice (the Agrawal generator with another seed)."""
    inside, _ = scenario.split_by_slice(scenario.draw(4 * n, seed=seed))
    while len(inside) < n:
        more, _ = scenario.split_by_slice(scenario.draw(4 * n, seed=seed + 10_000 + len(inside)))
        inside += more
    return inside[:n]


def _train_generator(service: GeneratorService, world: World) -> TabularGenerator:
    """The route's generator, trained exactly as ``GeneratorService.batch`` would (it then reuses it)."""
    s, route = service.settings, scenario.ROUTE
    rows = usable(service.reservoir.split(route, s.validation_share, s.gate_share).train, world.family)
    controls = service.plugins.controls(route)
    values = service.plugins.control_values(route, [r.row for r in rows])
    gen, _ = service.trainer.get(route, world.family, controls, rows, values, service.reservoir.seen(route))
    return gen


@torch.no_grad()
def _correct(module: torch.nn.Module, rows: TrainingData) -> np.ndarray:
    module.eval()
    return (module.cpu()(rows.x).argmax(dim=1) == rows.y).numpy()


# -- the report -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    seeds: int
    held_out: int
    held_out_slice: int
    seconds: float
    strategies: list[dict[str, str]]  # one dict of formatted cells per strategy
    comparisons: list[tuple[str, str]]
    headline: list[tuple[str, str]]


def evaluate(seeds: int = 5, runtime: Runtime | None = None) -> Report:
    began = time.perf_counter()
    runtime = runtime or configure("cpu", threads=1)
    world = World()
    trials = [trial(world, seed, runtime) for seed in range(seeds)]
    boot = PairedBootstrap(seeds, len(world.y), replicates=2000, seed=0)
    slice_, complement, flips, compute = {}, {}, {}, {}
    strategies = []
    for name in STRATEGIES:
        correct = np.stack([t[name].correct for t in trials]).astype(np.float64)
        slice_[name] = boot.mean(correct, where=world.in_slice)
        complement[name] = boot.mean(correct, where=~world.in_slice)
        flips[name] = boot.mean(world.old_correct[None, :] & (correct == 0))
        compute[name] = boot.seed_mean(np.array([t[name].cost.cpu for t in trials]))
        gates = [t[name].gate for t in trials]
        strategies.append(
            {
                "strategy": name,
                "slice acc": _ci(slice_[name], "{:.3f}"),
                "complement acc": _ci(complement[name], "{:.3f}"),
                "negative flips": _ci(100 * flips[name], "{:.2f}%"),
                "compute s (CPU)": f"{compute[name].value:.2f}",
                "wall s": f"{np.mean([t[name].cost.wall for t in trials]):.2f}",
                "gate passed": "—" if gates[0] is None else f"{sum(bool(g) for g in gates)} of {seeds}",
                "target rows": f"{np.mean([t[name].target_rows for t in trials]):.0f}",
                "epochs kept": f"{np.mean([t[name].epochs_kept for t in trials]):.1f}",
            }
        )

    def delta(a: str, b: str) -> str:
        return (
            f"slice {_ci(100 * (slice_[a] - slice_[b]), '{:+.1f}')} pt, "
            f"complement {_ci(100 * (complement[a] - complement[b]), '{:+.2f}')} pt, "
            f"flips {_ci(100 * (flips[a] - flips[b]), '{:+.2f}')} pt"
        )

    comparisons = [(f"{name} vs no action", delta(name, NONE)) for name in STRATEGIES if name != NONE]
    comparisons += [(f"insitu vs {name}", delta(INSITU, name)) for name in BASELINES]

    gap = (slice_[INSITU] - slice_[NONE]) / (slice_[CEILING] - slice_[NONE])
    share = compute[INSITU] / compute[CEILING]
    amortised = boot.seed_mean(np.array([(t[INSITU].cost - t[INSITU].generator).cpu for t in trials]))
    lost = 100 * (complement[NONE] - complement[INSITU])
    aims = [
        (f"recovers >= {AIM_GAP_SHARE:.0%} of the slice gap", gap, lambda v: v >= AIM_GAP_SHARE),
        (f"compute < {AIM_COMPUTE_SHARE:.0%} of retraining's", share, lambda v: v < AIM_COMPUTE_SHARE),
        (f"loses <= {AIM_COMPLEMENT_LOSS} pt on the complement", lost, lambda v: v <= AIM_COMPLEMENT_LOSS),
    ]
    headline = [
        ("insitu: share of the no-action -> ceiling slice gap recovered", _ci(100 * gap, "{:.0f}%")),
        ("insitu: compute as a share of retraining's", _ci(100 * share, "{:.0f}%")),
        (
            "insitu: the same without training the generator (reused per route)",
            _ci(100 * (amortised / compute[CEILING]), "{:.0f}%"),
        ),
        ("insitu: complement accuracy points lost", _ci(lost, "{:+.2f}")),
        *((f"aim: insitu {what}", _verdict(estimate, holds)) for what, estimate, holds in aims),
    ]
    return Report(
        seeds=seeds,
        held_out=len(world.y),
        held_out_slice=int(world.in_slice.sum()),
        seconds=time.perf_counter() - began,
        strategies=strategies,
        comparisons=comparisons,
        headline=headline,
    )


def _verdict(estimate: Estimate, holds: Callable[[float], bool]) -> str:
    """Met or not by the mean; and whether the whole 95% interval agrees."""
    low, high = estimate.interval(0.95)
    agree = holds(low) == holds(high) == holds(estimate.value)
    verdict = "met" if holds(estimate.value) else "NOT met"
    return f"{verdict} (all of the 95% CI)" if agree else f"{verdict} by the mean; the 95% CI straddles the threshold"


def _ci(estimate: Estimate, fmt: str) -> str:
    low, high = estimate.interval(0.95)
    return f"{fmt.format(estimate.value)} [{fmt.format(low)}, {fmt.format(high)}]"


def rows_of(report: Report) -> list[tuple[str, str]]:
    out = [
        (
            "setup",
            f"{report.seeds} seeds; {report.held_out:,} held-out real rows ({report.held_out_slice:,} in the slice); "
            "mean [paired bootstrap 95% CI over seeds and held-out rows]",
        )
    ]
    for cells in report.strategies:
        out.append((cells["strategy"], ", ".join(f"{k} {v}" for k, v in cells.items() if k != "strategy")))
    return out + report.comparisons + report.headline + [("wall time", f"{report.seconds:.0f} s")]


def run(seeds: int = 5) -> list[tuple[str, str]]:
    return rows_of(evaluate(seeds))


def markdown(report: Report) -> str:
    columns = list(report.strategies[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(cells[c] for c in columns) + " |" for cells in report.strategies]
    lines += ["", "| comparison (mean [95% CI]) | difference |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in report.comparisons]
    lines += ["", "| headline | value |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in report.headline]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    report = evaluate(args.seeds)
    print(
        f"{report.seeds} seeds, {report.held_out:,} held-out real rows ({report.held_out_slice:,} in the slice); "
        "mean [paired bootstrap 95% CI: seeds and held-out rows resampled]\n"
    )
    print(markdown(report))
    print(f"\nwall time {report.seconds:.0f} s")


if __name__ == "__main__":
    main()
