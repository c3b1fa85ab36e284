"""The shape of a scenario file, validated with pydantic; regions are slices in the profiles' format.

>>> s = load_scenario("agrawal")
>>> s.route, [i.id for i in s.instances], [p.name for p in s.phases][:1]
('agrawal', ['agrawal-a', 'agrawal-b', 'agrawal-c'], ['baseline'])
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    ValidationError,
    field_validator,
    model_validator,
)

from infra.imports import import_callable
from schemas.slices import Slice

HERE = Path(__file__).parent
Row = tuple[dict[str, float], dict[str, str]]
Labelled = tuple[Row, str]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _import_path(value: str) -> str:
    if not re.fullmatch(r"[\w.]+:[\w.]+", value):
        msg = f"{value!r} is not a 'module:function' import path"
        raise ValueError(msg)
    return value


def resolve(path: str) -> Callable[..., Any]:
    """The callable a ``module:attribute`` path names; ``ValueError`` when it cannot be imported."""
    try:
        return import_callable(path)
    except ImportError as exc:
        raise ValueError(str(exc)) from exc


def _region(value: Any) -> Slice:
    """A scenario region: a ``{"description", "predicate"}`` slice record whose conditions each bound something."""
    if isinstance(value, Slice):
        return value
    if not (
        isinstance(value, dict) and set(value) == {"description", "predicate"} and isinstance(value["description"], str)
    ):
        msg = f'a region is {{"description": "...", "predicate": [conditions]}}, got {value!r}'
        raise ValueError(msg)
    try:
        region = Slice.from_record(value)
    except (KeyError, TypeError) as exc:
        msg = f"predicate {value['description']!r}: a condition is not {{feature, low, high, value}}: {exc!r}"
        raise ValueError(msg) from None
    for condition in region.conditions:
        if condition.low is None and condition.high is None and condition.value is None:
            msg = f"predicate {region.description!r}: condition on {condition.feature!r} has no low, high or value"
            raise ValueError(msg)
    return region


Region = Annotated[Slice, PlainValidator(_region), PlainSerializer(Slice.to_record)]
"""A ``Slice`` field of a scenario, read from and written as its record."""


class Dataset(_Frozen):
    rows: str = Field(description="module:function (count, seed) -> list of ((features, attributes), label)")
    numeric: list[str]
    categorical: dict[str, list[str]] = Field(default_factory=dict)
    signals: list[str] = Field(
        default_factory=list,
        description="numeric features the service reports that the model does not read (e.g. an image-quality score)",
    )
    labels: list[str]

    _rows = field_validator("rows")(lambda cls, v: _import_path(v))

    def draw(self, count: int, seed: int) -> list[Labelled]:
        return list(resolve(self.rows)(count, seed))


class Model(_Frozen):
    module: str = "workers.models:TabularMLP"
    hidden: list[int] = Field(default_factory=lambda: [64, 64])
    epochs: int = Field(40, ge=1)
    lr: float = Field(3e-3, gt=0)
    batch_size: int = Field(128, ge=1)


class InstanceSpec(_Frozen):
    """One instance: trained on ``train_rows`` rows, of which only ``keep`` inside ``barely_saw``."""

    id: str
    train_rows: int = Field(8000, ge=100)
    seed: int = 0
    barely_saw: Region | None = None
    keep: int = Field(10, ge=0)


class Phase(_Frozen):
    """A stretch of traffic: rows drawn from the dataset, some regions left out or made more frequent."""

    name: str
    duration_s: float = Field(gt=0)
    exclude: Region | None = None
    oversample: Region | None = None
    share: float = Field(0.0, ge=0, lt=1, description="share of requests drawn inside ``oversample``")


class Weakness(_Frozen):
    """Where an instance is weak from the start of ``phase``: what the time to heal is measured on."""

    instance: str
    phase: str
    slice: Region


class Traffic(_Frozen):
    rate: float = Field(100.0, gt=0, description="requests per second")
    feedback_delay_s: tuple[float, float] = (0.5, 4.0)
    seed: int = 7


class Scenario(_Frozen):
    name: str
    description: str = ""
    route: str
    dataset: Dataset
    model: Model = Field(default_factory=Model)
    instances: list[InstanceSpec]
    label_functions: list[str] = Field(default_factory=list)
    controls: list[str] = Field(default_factory=list)
    traffic: Traffic = Field(default_factory=Traffic)
    phases: list[Phase]
    weaknesses: list[Weakness] = Field(default_factory=list)
    settings: dict[str, str] = Field(
        default_factory=dict, description="INSITU_* variables the scenario's processes run with"
    )

    @field_validator("label_functions", "controls")
    @classmethod
    def _paths(cls, value: list[str]) -> list[str]:
        return [_import_path(v) for v in value]

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        ids = [i.id for i in self.instances]
        if len(set(ids)) != len(ids) or len(ids) < 2:
            msg = f"instances must be at least two, with distinct ids: {ids}"
            raise ValueError(msg)
        phases = [p.name for p in self.phases]
        for weakness in self.weaknesses:
            if weakness.instance not in ids or weakness.phase not in phases:
                msg = f"weakness of {weakness.instance!r} in phase {weakness.phase!r}: unknown instance or phase"
                raise ValueError(msg)
        known = set(self.dataset.numeric) | set(self.dataset.categorical) | set(self.dataset.signals)
        regions = [i.barely_saw for i in self.instances] + [w.slice for w in self.weaknesses]
        regions += [p.exclude for p in self.phases] + [p.oversample for p in self.phases]
        for region in regions:
            if region is None:
                continue
            unknown = set(region.features) - known
            if unknown:
                msg = f"predicate {region.description!r} names {sorted(unknown)}, not features of the dataset"
                raise ValueError(msg)
        for name in self.settings:
            if not name.startswith("INSITU_"):
                msg = f"setting {name!r}: scenario settings are INSITU_* variables"
                raise ValueError(msg)
        return self

    @property
    def duration_s(self) -> float:
        return sum(p.duration_s for p in self.phases)

    def phase_start(self, name: str) -> float:
        start = 0.0
        for phase in self.phases:
            if phase.name == name:
                return start
            start += phase.duration_s
        msg = f"no phase {name!r}"
        raise KeyError(msg)

    def scaled(self, factor: float) -> Scenario:
        """The same scenario with every phase ``factor`` times as long."""
        phases = [p.model_copy(update={"duration_s": p.duration_s * factor}) for p in self.phases]
        return self.model_copy(update={"phases": phases})


def available_scenarios() -> list[str]:
    return sorted(p.stem for p in HERE.glob("*.json"))


def load_scenario(name_or_path: str | Path) -> Scenario:
    """A shipped scenario by name, or a scenario file by path; ``ValueError`` naming the problem."""
    path = Path(name_or_path)
    if not path.suffix:
        path = HERE / f"{name_or_path}.json"
        if not path.exists():
            msg = f"no scenario {name_or_path!r}; shipped: {available_scenarios()} (or give a path to a JSON file)"
            raise ValueError(msg)
    try:
        raw = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        msg = f"scenario {path}: {exc}"
        raise ValueError(msg) from exc
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:
        msg = f"scenario {path}: {exc}"
        raise ValueError(msg) from exc


def family_json(scenario: Scenario, rows: Sequence[Labelled]) -> dict[str, Any]:
    """The registry family of the scenario's instances, standardised on ``rows``."""
    import numpy as np

    data = scenario.dataset
    features: list[dict[str, Any]] = []
    for name in data.numeric:
        values = np.array([r[0][name] for r, _ in rows], dtype=np.float64)
        std = float(values.std())
        std = std if std > 1e-6 else 1.0  # a constant column (e.g. a corner pixel)
        features.append({"name": name, "kind": "numeric", "mean": float(values.mean()), "std": std})
    features += [{"name": k, "kind": "categorical", "values": v} for k, v in data.categorical.items()]
    width = len(data.numeric) + sum(len(v) for v in data.categorical.values())
    return {
        "name": f"{scenario.name}-model",
        "module": scenario.model.module,
        "kwargs": {"in_features": width, "n_classes": len(data.labels), "hidden": list(scenario.model.hidden)},
        "features": features,
        "labels": list(data.labels),
    }
