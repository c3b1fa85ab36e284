"""A simulated route for the profiling tests and benchmark: rule-based truth, planted weaknesses.

Features: ``age`` ~ U(18, 78), ``income`` ~ U(0, 200000); attribute ``region`` in four values.
The true label is a rule of the three; every instance errs with a base rate everywhere (a random
wrong label), and more inside the regions planted for it (systematically the next label).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from streams.profiling.window import Frame

LABELS = ("approve", "review", "deny")
REGIONS = ("north", "south", "east", "west")

Region = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def planted_box(age: np.ndarray, income: np.ndarray, region: np.ndarray) -> np.ndarray:
    """The weakness planted in the done-when test: ``25 <= age < 45 and income >= 100000``."""
    return (age >= 25) & (age < 45) & (income >= 100_000)


def hard_corner(age: np.ndarray, income: np.ndarray, region: np.ndarray) -> np.ndarray:
    """A region hard for every instance: ``age >= 60 and region == east``."""
    return (age >= 60) & (region == "east")


def truth(age: np.ndarray, income: np.ndarray, region: np.ndarray) -> np.ndarray:
    score = income / 1000 - 1.5 * (age - 18) + np.where(region == "north", 10, 0)
    return np.where(score > 80, "approve", np.where(score > 20, "review", "deny")).astype(object)


@dataclass
class Instance:
    """An instance: base error rate, and error rates inside planted regions."""

    name: str
    base_error: float = 0.05
    weaknesses: list[tuple[Region, float]] = field(default_factory=list)

    def error_rate(self, age: np.ndarray, income: np.ndarray, region: np.ndarray) -> np.ndarray:
        rate = np.full(age.shape, self.base_error)
        for where, error in self.weaknesses:
            rate = np.where(where(age, income, region), error, rate)
        return rate

    def planted(self, age: np.ndarray, income: np.ndarray, region: np.ndarray) -> np.ndarray:
        inside = np.zeros(age.shape, dtype=bool)
        for where, _ in self.weaknesses:
            inside |= where(age, income, region)
        return inside


def inputs(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    age = rng.uniform(18, 78, n)
    income = rng.uniform(0, 200_000, n)
    region = np.array(REGIONS, dtype=object)[rng.integers(0, len(REGIONS), n)]
    return age, income, region


def records(
    rng: np.random.Generator, instance: Instance, n: int, *, route: str = "credit", start_ts: int = 0, version: int = 1
) -> Iterator[dict[str, Any]]:
    """``n`` joined events of ``instance`` (decoded ``joined.events`` records)."""
    age, income, region = inputs(rng, n)
    label = truth(age, income, region)
    wrong = rng.random(n) < instance.error_rate(age, income, region)
    # Errors inside a planted region are systematic (the next label), elsewhere random.
    offset = np.where(instance.planted(age, income, region), 1, rng.integers(1, len(LABELS), n))
    index = {name: i for i, name in enumerate(LABELS)}
    for i in range(n):
        prediction = LABELS[(index[label[i]] + offset[i]) % len(LABELS)] if wrong[i] else label[i]
        yield {
            "request_id": f"{instance.name}-{start_ts + i}",
            "route": route,
            "instance_id": instance.name,
            "model_version": version,
            "inference_ts": start_ts + i,
            "feedback_ts": start_ts + i + 1,
            "features": {"age": float(age[i]), "income": float(income[i])},
            "attributes": {"region": str(region[i])},
            "prediction": prediction,
            "probabilities": {},
            "label": str(label[i]),
            "correct": not wrong[i],
        }


def uniform_frame(rng: np.random.Generator, n: int) -> tuple[Frame, np.ndarray, np.ndarray, np.ndarray]:
    """A fresh uniform sample of the input space (labels irrelevant) and its raw columns."""
    age, income, region = inputs(rng, n)
    empty = np.array([""] * n, dtype=object)
    frame = Frame({"age": age, "income": income}, {"region": region}, empty, empty, np.ones(n, bool), np.zeros(n))
    return frame, age, income, region


def precision_recall(inside_predicate: np.ndarray, inside_region: np.ndarray) -> tuple[float, float]:
    both = float(np.count_nonzero(inside_predicate & inside_region))
    return both / max(1, int(inside_predicate.sum())), both / max(1, int(inside_region.sum()))
