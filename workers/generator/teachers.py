"""Which peers may teach a slice: strong there according to their own labelled traffic and their profiles.

A peer (another instance of the route) teaches when the lower Wilson bound of its
accuracy on the slice's real rows, served by its current version, reaches
``min_accuracy`` with at least ``min_support`` rows, and its latest profile changes do
not list a weak slice overlapping this one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from schemas.slices import Slice
from workers.reservoir import RealRow


def wilson_low(successes: int, n: int, z: float = 1.6449) -> float:
    """Lower bound of a binomial proportion (Wilson score interval; z=1.645: one-sided 95 %).

    >>> round(wilson_low(90, 100), 3)
    0.84
    """
    if n == 0:
        return 0.0
    p = successes / n
    centre = p + z * z / (2 * n)
    margin = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (centre - margin) / (1 + z * z / n)


class WeakSlices:
    """The active weak slices of every instance, from ``profile.changes`` (appeared minus resolved).

    >>> weak = WeakSlices()
    >>> s = {"description": "age >= 60", "predicate": [{"feature": "age", "low": 60.0}]}
    >>> age = Slice.from_record(s)
    >>> weak.update({"instance_id": "b", "kind": "slice_appeared", "slice": s}).weak_on("b", age)
    True
    >>> weak.update({"instance_id": "b", "kind": "slice_resolved", "slice": s}).weak_on("b", age)
    False
    """

    def __init__(self) -> None:
        self._active: dict[str, dict[str, Slice]] = {}

    def update(self, change: Mapping[str, Any]) -> WeakSlices:
        if change.get("slice") is None:
            return self
        predicate = Slice.from_record(change["slice"])
        active = self._active.setdefault(change["instance_id"], {})
        if change["kind"] == "slice_resolved":
            active.pop(predicate.description, None)
        elif change["kind"] == "slice_appeared":
            active[predicate.description] = predicate
        return self

    def weak_on(self, instance_id: str, predicate: Slice) -> bool:
        return any(s.overlaps(predicate) for s in self._active.get(instance_id, {}).values())


@dataclass(frozen=True)
class PeerStrength:
    instance_id: str
    accuracy: float
    accuracy_low: float
    support: int


def strong_peers(
    target: str,
    rows: Sequence[RealRow],
    inside: Callable[[Sequence[tuple[Mapping[str, float], Mapping[str, str]]]], np.ndarray],
    *,
    current_versions: Mapping[str, int | None],
    min_accuracy: float,
    min_support: int,
    weak: WeakSlices | None = None,
    predicate: Slice | None = None,
) -> list[PeerStrength]:
    """Peers of ``target`` (instances in ``current_versions``) strong on the rows ``inside`` the slice, best first."""
    mask = inside([r.row for r in rows]) if rows else np.zeros(0, dtype=bool)
    found = []
    for peer, version in current_versions.items():
        if peer == target or version is None:
            continue
        if weak is not None and predicate is not None and weak.weak_on(peer, predicate):
            continue
        served = [
            r for r, m in zip(rows, mask, strict=True) if m and r.instance_id == peer and r.model_version == version
        ]
        correct = sum(r.correct for r in served)
        low = wilson_low(correct, len(served))
        if len(served) >= min_support and low >= min_accuracy:
            found.append(PeerStrength(peer, correct / len(served), low, len(served)))
    return sorted(found, key=lambda p: -p.accuracy_low)
