"""The rows a fine-tune trains on: the batch's synthetic rows, replayed real rows, boundary anchors.

- **synthetic** rows: their label, weighted by its confidence;
- **replayed** real rows (the reservoir's train part): their true label, and outside the
  target slices also the old version's probabilities (distillation, weight ``distill``),
  so the rest of the input space is not forgotten;
- **anchors**: each synthetic row moved just outside one of its slice's conditions (a
  numeric value across the bound by up to half a standard deviation, or another
  category), with the old version's probabilities as the only target (weight
  ``anchor``): the slice's boundary stays where it is instead of smearing outward.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from infra.registry.family import EncodingError, ModelFamily
from infra.registry.registry import LoadedModel
from schemas.slices import Condition, Slice, in_any
from workers.finetune.train import TrainingData
from workers.loop import Refused
from workers.reservoir import RealRow, usable

Row = tuple[Mapping[str, float], Mapping[str, str]]


def synthetic_rows(batch: Mapping[str, Any]) -> list[Row]:
    return [(r["features"], r["attributes"]) for r in batch["rows"]]


def synthetic(batch: Mapping[str, Any], family: ModelFamily) -> TrainingData:
    """The batch's rows; ``Refused('invalid_batch')`` naming the field when one does not fit the family."""
    rows = batch["rows"]
    where = f"batch {batch['batch_id']} for {batch['instance_id']!r}"
    try:
        x = family.encode_batch(synthetic_rows(batch))
        y = torch.tensor([family.label_index(r["label"]) for r in rows], dtype=torch.long)
    except EncodingError as exc:
        raise Refused(reason="invalid_batch", detail=f"{where}: field 'rows.{exc.field}': {exc}") from None
    confidence = torch.tensor([r["confidence"] for r in rows], dtype=torch.float32)
    if not torch.isfinite(confidence).all() or (confidence < 0).any():
        raise Refused(reason="invalid_batch", detail=f"{where}: field 'rows.confidence': must be finite and >= 0")
    return TrainingData.of(x, y, confidence.clamp(max=1.0), classes=len(family.labels))


def real(rows: Sequence[RealRow], family: ModelFamily) -> tuple[TrainingData, list[Row]]:
    """Usable real rows (true labels) and the rows themselves."""
    kept = usable(list(rows), family)
    data = TrainingData.of(
        family.encode_batch([r.row for r in kept]),
        torch.tensor([family.label_index(r.label) for r in kept], dtype=torch.long),
        classes=len(family.labels),
    )
    return data, [r.row for r in kept]


def replay(
    rows: Sequence[RealRow],
    family: ModelFamily,
    old: LoadedModel,
    slices: Sequence[Slice],
    n: int,
    *,
    distill: float,
    rng: np.random.Generator,
) -> TrainingData:
    """``n`` real rows drawn without replacement; outside ``slices`` they also carry the old probabilities."""
    data, raw = real(rows, family)
    chosen = np.sort(rng.choice(len(data), size=min(n, len(data)), replace=False))
    picked = data.take(torch.as_tensor(chosen, dtype=torch.long))
    if not slices or distill <= 0 or not len(picked):
        return picked
    outside = ~in_any(slices, [raw[i] for i in chosen])
    return TrainingData(
        picked.x,
        picked.y,
        picked.weight,
        old.proba_tensor(picked.x),
        torch.as_tensor(outside, dtype=torch.float32) * distill,
    )


def anchors(
    rows: Sequence[Row],
    family: ModelFamily,
    old: LoadedModel,
    slices: Sequence[Slice],
    *,
    weight: float,
    rng: np.random.Generator,
) -> TrainingData:
    """One twin per row just outside its slice, targeted at the old version's probabilities."""
    classes = len(family.labels)
    if not slices or weight <= 0:
        return TrainingData.of(torch.zeros(0, family.width), torch.zeros(0), classes=classes)
    std = {f.name: f.std for f in family.features if f.kind == "numeric"}
    values = {f.name: f.values for f in family.features if f.kind == "categorical"}
    twins: list[Row] = []
    for features, attributes in rows:
        for predicate in slices:
            if predicate.contains(features, attributes) and predicate.conditions:
                cond = predicate.conditions[int(rng.integers(len(predicate.conditions)))]
                twin = _across(features, attributes, cond, std, values, rng)
                if twin is not None:
                    twins.append(twin)
                break
    if twins:
        twins = [t for t, inside in zip(twins, in_any(slices, twins), strict=True) if not inside]
    x = family.encode_batch(twins)
    return TrainingData.of(
        x,
        torch.zeros(len(x)),
        torch.zeros(len(x)),
        classes=classes,
        soft=old.proba_tensor(x),
        soft_weight=torch.full((len(x),), float(weight)),
    )


def _across(
    features: Mapping[str, float],
    attributes: Mapping[str, str],
    cond: Condition,
    std: Mapping[str, float],
    values: Mapping[str, Sequence[str]],
    rng: np.random.Generator,
) -> Row | None:
    f, a = dict(features), dict(attributes)
    if cond.value is not None:
        others = [v for v in values.get(cond.feature, ()) if v != cond.value]
        if not others:
            return None
        a[cond.feature] = others[int(rng.integers(len(others)))]
        return f, a
    if cond.feature not in std:
        return None
    step = float(rng.uniform(0, 0.5)) * std[cond.feature]
    sides = [s for s in ("low", "high") if getattr(cond, s) is not None]
    if not sides:
        return None
    side = sides[int(rng.integers(len(sides)))]
    if side == "low":
        assert cond.low is not None
        f[cond.feature] = math.nextafter(cond.low, -math.inf) - step
    else:
        assert cond.high is not None
        f[cond.feature] = cond.high + step
    return f, a
