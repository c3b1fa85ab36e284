"""From one profile change to one labelled synthetic batch: the generator worker's logic, without Kafka.

For a change that names a weak slice of an instance: train (or reuse) the route's
generator on the train part of the reservoir, sample inside the slice, around the
instance's misclassified rows (inside the slice too) and at the control levels the
profile names; label the rows through the label sources; run the quality guard; build
the ``synthetic.batches`` record. A batch that fails the guard is published with no
rows, so its summary (and why) still reaches the analytics.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np

from infra.registry.family import ModelFamily
from infra.registry.registry import ModelRegistry, RegistryError
from schemas.slices import Slice
from workers.config import WorkerSettings
from workers.device import Runtime
from workers.generator import targeting
from workers.generator.codec import Row
from workers.generator.labels import ConditioningSource, LabelSource, RuleSource, TeacherSource, label_shares, resolve
from workers.generator.model import Sample, TabularGenerator
from workers.generator.plugins import RoutePlugins
from workers.generator.quality import guard
from workers.generator.teachers import WeakSlices, strong_peers
from workers.generator.trainer import GeneratorTrainer
from workers.loop import Output, Refused
from workers.reservoir import RealRow, Reservoir, usable

log = logging.getLogger(__name__)
SOURCE = "workers.generator"


class GeneratorService:
    """Handles ``profile.changes`` records; ``observe`` feeds it ``joined.events`` records."""

    def __init__(
        self,
        settings: WorkerSettings,
        *,
        registry: ModelRegistry,
        trainer: GeneratorTrainer,
        plugins: RoutePlugins,
        runtime: Runtime,
        reservoir: Reservoir | None = None,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.trainer = trainer
        self.plugins = plugins
        self.runtime = runtime
        self.reservoir = reservoir or Reservoir(settings.reservoir_size)
        self.weak = WeakSlices()

    def observe(self, joined: Mapping[str, Any]) -> None:
        self.reservoir.update(joined["route"], RealRow.from_joined(joined))

    def handle(self, change: Mapping[str, Any]) -> list[Output]:
        """The outputs for one ``profile.changes`` record (none for changes that need no data)."""
        self.weak.update(change)
        instance, route = change["instance_id"], change["route"]
        if change["kind"] == "slice_resolved":
            return []
        slice_record = change.get("slice")
        if slice_record is not None and slice_record.get("hard_for_all"):
            log.info("%s: slice %r is hard for every peer; no data generated", instance, slice_record["description"])
            return []
        try:
            info = self.registry.instance(instance)
            family = self.registry.family(info.family)
        except RegistryError as exc:
            raise Refused(reason="unknown_instance", detail=f"instance {instance!r}: {exc}") from None
        if info.route != route:
            raise Refused(
                reason="route_mismatch", detail=f"instance {instance!r} is on route {info.route!r}, not {route!r}"
            )
        try:
            predicate = Slice.from_record(slice_record) if slice_record is not None else None
        except (ValueError, KeyError) as exc:
            raise Refused(reason="schema_violation", detail=f"instance {instance!r}: field 'slice': {exc}") from None
        return [("synthetic.batches", self.batch(change, family, predicate))]

    # -- one batch ------------------------------------------------------------------------------

    def batch(self, change: Mapping[str, Any], family: ModelFamily, predicate: Slice | None) -> dict[str, Any]:
        s = self.settings
        instance, route = change["instance_id"], change["route"]
        rows = usable(self.reservoir.split(route, s.validation_share, s.gate_share).train, family)
        if len(rows) < s.generator_min_rows:
            detail = f"route {route!r}: {len(rows)} usable real training rows, {s.generator_min_rows} needed"
            raise Refused(reason="insufficient_data", detail=detail)
        controls = self.plugins.controls(route)
        real_controls = self.plugins.control_values(route, [r.row for r in rows])
        gen, training = self.trainer.get(route, family, controls, rows, real_controls, self.reservoir.seen(route))
        rng = np.random.default_rng(s.worker_seed)
        inside = self._membership(route, predicate)
        in_target = inside([r.row for r in rows])
        anchors = _anchors(rows, in_target, family, real_controls)
        wrong = np.array([r.instance_id == instance and not r.correct for r in rows]) & in_target
        misclassified = _anchors(rows, wrong, family, real_controls)
        label_probs = label_shares([r.label for r, m in zip(rows, in_target, strict=True) if m], family.labels)

        want = int(s.synthetic_rows * 1.5)  # rows whose sources disagree are dropped
        n_control = int(want * s.control_share) if controls else 0
        n_near = int(want * s.neighbourhood_share) if len(misclassified) else 0
        n_slice = want - n_control - n_near if predicate is not None else 0
        if predicate is None and len(misclassified):
            n_near = want - n_control
        parts: list[tuple[str, Sample]] = []
        sampled = accepted = projected = fallback = 0
        if n_slice:
            sample, report = targeting.in_slice(
                gen,
                inside,
                n_slice,
                label_probs=label_probs,
                anchors=anchors,
                budget=s.sample_budget,
                min_acceptance=s.min_acceptance,
                scale=s.neighbourhood_scale,
                rng=rng,
                projection=_projectable(predicate, controls),
            )
            parts.append(("slice", sample))
            sampled, accepted, projected, fallback = report.sampled, report.accepted, report.projected, report.fallback
        if n_near:
            near = targeting.around(gen, misclassified, 2 * n_near, scale=s.neighbourhood_scale, rng=rng)
            mask = inside(near.rows)
            sampled, accepted = sampled + len(near), accepted + int(mask.sum())
            near = near.take(mask)
            parts.append(("neighbourhood", near.take(np.arange(len(near)) < n_near)))
        if n_control:
            levels = self._levels(predicate, controls, real_controls, wrong if wrong.any() else in_target)
            parts.append(
                (
                    "control",
                    targeting.at_levels(
                        gen,
                        levels,
                        n_control,
                        label_probs=label_probs,
                        inside=inside if predicate is not None else None,
                        rng=rng,
                    ),
                )
            )
        return self._labelled_record(
            change,
            family,
            gen,
            parts,
            rows,
            in_target,
            {
                "sampled": float(sampled),
                "accepted": float(accepted),
                "projected": float(projected),
                "fallback": float(fallback),
                "generator_epochs": float(training.epochs),
                "generator_warm": float(training.warm),
                "generator_rows": float(training.rows),
            },
        )

    def _labelled_record(
        self,
        change: Mapping[str, Any],
        family: ModelFamily,
        gen: TabularGenerator,
        parts: Sequence[tuple[str, Sample]],
        real: Sequence[RealRow],
        in_target: np.ndarray,
        stats: dict[str, float],
    ) -> dict[str, Any]:
        s = self.settings
        route, instance = change["route"], change["instance_id"]
        origins = [origin for origin, sample in parts for _ in sample.rows]
        sample = Sample.concat([p for _, p in parts], len(gen.codec.controls), gen.codec.width)
        sources: list[LabelSource] = [RuleSource(n, f, family.labels) for n, f in self.plugins.label_functions(route)]
        teachers = self._teachers(instance, route, change.get("slice"))
        sources += teachers
        sources.append(ConditioningSource(gen))
        resolution = resolve(sources, sample)
        labelled = [i for i, d in enumerate(resolution.decisions) if d is not None]
        keep = _spread(labelled, s.synthetic_rows, np.random.default_rng(s.worker_seed))
        out_rows = []
        for i in keep:
            decision = resolution.decisions[i]
            assert decision is not None
            features, attributes = sample.rows[i]
            out_rows.append(
                {
                    "features": dict(features),
                    "attributes": dict(attributes),
                    "label": decision.label,
                    "label_source": decision.source,
                    "confidence": decision.confidence,
                    "origin": origins[i],
                }
            )
        kept = np.zeros(len(sample.rows), dtype=bool)
        kept[keep] = True
        reference = [r.row for r, m in zip(real, in_target, strict=True) if m]
        names = [c.name for c in gen.codec.numeric]
        report = guard(
            sample.x[kept],
            gen.codec.encode(reference),
            _numeric(sample.rows, names, kept),
            _numeric(reference, names),
            names,
            max_auc=s.quality_max_auc,
            max_range_violations=s.quality_max_range_violations,
            seed=s.worker_seed or 0,
        )
        quality = {**report.scores, **stats}
        quality.update(
            {
                "dropped_disagreement": float(resolution.dropped),
                "unlabelled": float(resolution.unlabelled),
                "teachers": float(len(teachers)),
                "guard_passed": float(report.passed),
            }
        )
        for origin in ("slice", "neighbourhood", "control"):
            quality[f"rows.{origin}"] = float(sum(1 for r in out_rows if r["origin"] == origin))
        if not report.passed:
            log.warning(
                "%s: synthetic batch failed the quality guard (%s); publishing its summary without rows",
                instance,
                "; ".join(report.problems),
            )
            out_rows = []
        predicate_record = change.get("slice")
        return {
            "batch_id": uuid.uuid4().hex,
            "instance_id": instance,
            "route": route,
            "model_version": change["model_version"],
            "profile_version": change["profile_version"],
            "created_ts": datetime.now(UTC),
            "target_slices": [predicate_record["description"]] if predicate_record else [],
            "rows": out_rows,
            "acceptance_rate": stats["accepted"] / stats["sampled"] if stats["sampled"] else 1.0,
            "dropped": resolution.dropped,
            "quality": quality,
            "slices": [Slice.from_record(predicate_record).to_record()] if predicate_record else [],
            "change_id": change["change_id"],
        }

    # -- helpers -------------------------------------------------------------------------------

    def _membership(self, route: str, predicate: Slice | None) -> targeting.Membership:
        controls = set(self.plugins.controls(route))
        if predicate is None:
            return lambda rows: np.ones(len(rows), dtype=bool)
        if not controls & set(predicate.features):
            return predicate.mask
        names = self.plugins.controls(route)

        def inside(rows: Sequence[Row]) -> np.ndarray:
            values = self.plugins.control_values(route, rows)
            augmented = [
                ({**f, **dict(zip(names, map(float, v), strict=True))}, a)
                for (f, a), v in zip(rows, values, strict=True)
            ]
            return predicate.mask(augmented)

        return inside

    def _levels(
        self, predicate: Slice | None, controls: Sequence[str], values: np.ndarray, focus: np.ndarray
    ) -> list[tuple[float, float]]:
        """Per control: the slice's range when the profile names it, else the middle half of the focus rows."""
        levels = []
        for j, name in enumerate(controls):
            column = values[focus, j] if focus.any() else values[:, j]
            low, high = (float(np.quantile(column, 0.25)), float(np.quantile(column, 0.75))) if len(column) else (0, 0)
            for cond in predicate.conditions if predicate is not None else ():
                if cond.feature == name and cond.value is None:
                    low = cond.low if cond.low is not None else float(values[:, j].min())
                    high = cond.high if cond.high is not None else float(values[:, j].max())
            levels.append((low, high))
        return levels

    def _teachers(self, instance: str, route: str, slice_record: Mapping[str, Any] | None) -> list[TeacherSource]:
        """Peers strong on the slice (on everything, for a change without one), as label sources."""
        s = self.settings
        predicate = Slice.from_record(slice_record) if slice_record is not None else None
        peers = {i.instance_id: self.registry.promoted_version(i.instance_id) for i in self.registry.instances(route)}
        strong = strong_peers(
            instance,
            self.reservoir.rows(route),
            self._membership(route, predicate),
            current_versions=peers,
            min_accuracy=s.teacher_min_accuracy,
            min_support=s.teacher_min_support,
            weak=self.weak,
            predicate=predicate,
        )
        return [
            TeacherSource(self.registry.load(p.instance_id, device=self.runtime.device), s.teacher_confidence)
            for p in strong
        ]


def _anchors(rows: Sequence[RealRow], mask: np.ndarray, family: ModelFamily, controls: np.ndarray) -> targeting.Anchors:
    index = np.flatnonzero(mask)
    chosen = [rows[int(i)] for i in index]
    return targeting.Anchors(
        [r.row for r in chosen],
        np.array([family.label_index(r.label) for r in chosen], dtype=np.int64),
        controls[index],
    )


def _spread(indices: list[int], n: int, rng: np.random.Generator) -> list[int]:
    """At most ``n`` of ``indices``, drawn across all of them (not the first ``n``, which would
    cut the batch's last parts, the control rows, whenever labelling drops few rows).

    >>> _spread(list(range(10)), 20, np.random.default_rng(0)) == list(range(10))
    True
    >>> picked = _spread(list(range(100)), 10, np.random.default_rng(0))
    >>> len(picked), picked == sorted(picked), max(picked) > 50
    (10, True, True)
    """
    if len(indices) <= n:
        return indices
    return sorted(int(i) for i in rng.choice(indices, size=n, replace=False))


def _projectable(predicate: Slice | None, controls: Sequence[str]) -> Slice | None:
    if predicate is None:
        return None
    own = tuple(c for c in predicate.conditions if c.feature not in set(controls))
    return Slice(own, predicate.description) if own else None


def _numeric(rows: Sequence[Row], names: Sequence[str], mask: np.ndarray | None = None) -> np.ndarray:
    chosen = [r for i, r in enumerate(rows) if mask is None or mask[i]]
    return np.array([[float(f[n]) for n in names] for f, _ in chosen], dtype=np.float64).reshape(
        len(chosen), len(names)
    )
