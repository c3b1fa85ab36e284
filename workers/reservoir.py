"""Recent real labelled rows per route (from ``joined.events``), and their stable train/validation/gate split.

The split hashes the request id, so every process (generator, fine-tune worker, any
number of copies) puts a row in the same part: the generator learns only from the
train part and the fine-tune worker validates and gates only on the parts it never saw.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from infra.registry.family import ModelFamily

Part = Literal["train", "validation", "gate"]


@dataclass(frozen=True)
class RealRow:
    """One joined event, reduced to what the workers learn from (personal fields are already gone)."""

    request_id: str
    instance_id: str
    model_version: int
    features: Mapping[str, float]
    attributes: Mapping[str, str]
    label: str
    prediction: str
    correct: bool
    ts: datetime | None = None

    @classmethod
    def from_joined(cls, record: Mapping[str, Any]) -> RealRow:
        return cls(
            request_id=record["request_id"],
            instance_id=record["instance_id"],
            model_version=int(record["model_version"]),
            features=dict(record["features"]),
            attributes=dict(record.get("attributes") or {}),
            label=record["label"],
            prediction=record["prediction"],
            correct=bool(record["correct"]),
            ts=record.get("inference_ts"),
        )

    @property
    def row(self) -> tuple[Mapping[str, float], Mapping[str, str]]:
        return self.features, self.attributes


def part_of(request_id: str, validation_share: float, gate_share: float) -> Part:
    """Which part a request belongs to, from a hash of its id (stable across processes and runs).

    >>> part_of("r-1", 0.2, 0.2) == part_of("r-1", 0.2, 0.2)
    True
    """
    digest = hashlib.blake2b(request_id.encode(), digest_size=8).digest()
    u = int.from_bytes(digest, "big") / 2**64
    if u < gate_share:
        return "gate"
    if u < gate_share + validation_share:
        return "validation"
    return "train"


@dataclass(frozen=True)
class Split:
    train: list[RealRow]
    validation: list[RealRow]
    gate: list[RealRow]


class Reservoir:
    """The ``capacity`` most recent rows per route, deduplicated by request id.

    >>> r = Reservoir(capacity=2)
    >>> for i in range(3):
    ...     _ = r.update("credit", RealRow(f"r{i}", "a", 1, {"x": float(i)}, {}, "y", "y", True))
    >>> [row.request_id for row in r.rows("credit")], r.seen("credit"), r.rows("other")
    (['r1', 'r2'], 3, [])
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            msg = f"capacity must be >= 1, got {capacity}"
            raise ValueError(msg)
        self.capacity = capacity
        self._rows: dict[str, OrderedDict[str, RealRow]] = {}
        self._seen: dict[str, int] = {}

    def update(self, route: str, row: RealRow) -> Reservoir:
        rows = self._rows.setdefault(route, OrderedDict())
        if row.request_id in rows:
            rows.move_to_end(row.request_id)
            rows[row.request_id] = row
            return self
        rows[row.request_id] = row
        self._seen[route] = self._seen.get(route, 0) + 1
        while len(rows) > self.capacity:
            rows.popitem(last=False)
        return self

    @property
    def routes(self) -> list[str]:
        return sorted(self._rows)

    def rows(self, route: str) -> list[RealRow]:
        """The route's rows, oldest first."""
        return list(self._rows.get(route, {}).values())

    def seen(self, route: str) -> int:
        """Distinct rows ever added for the route (a clock for 'the reservoir changed')."""
        return self._seen.get(route, 0)

    def split(self, route: str, validation_share: float, gate_share: float) -> Split:
        """The route's rows in three parts, each sorted by request id (the same parts whatever the arrival order)."""
        parts: dict[Part, list[RealRow]] = {"train": [], "validation": [], "gate": []}
        for row in sorted(self.rows(route), key=lambda r: r.request_id):
            parts[part_of(row.request_id, validation_share, gate_share)].append(row)
        return Split(parts["train"], parts["validation"], parts["gate"])


def usable(rows: list[RealRow], family: ModelFamily) -> list[RealRow]:
    """The rows ``family`` can encode, labelled with one of its labels."""
    from infra.registry.family import EncodingError

    out = []
    for row in rows:
        if row.label not in family.labels:
            continue
        try:
            family.encode(row.features, row.attributes)
        except EncodingError:
            continue
        out.append(row)
    return out
