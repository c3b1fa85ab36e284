"""From one synthetic batch to one new version: the fine-tune worker's logic, without Kafka.

Start from the instance's promoted version; fine-tune on the batch's rows mixed with
replayed real rows (train part of the reservoir); validate each epoch on the validation
part (rolling back a worse epoch); judge old against new on the gate part. Passing: a
``candidate`` version in the registry; failing: a ``rejected`` version with the reasons
(the promoted version is never touched). Either way one ``model.versions`` event.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import numpy as np
import torch

from infra.registry.registry import LoadedModel, ModelRegistry, RegistryError
from infra.registry.versions import Status
from schemas.slices import Slice, in_any
from workers.config import WorkerSettings
from workers.device import Runtime
from workers.finetune import data
from workers.finetune.backoff import Backoff
from workers.finetune.gate import GatePolicy, evaluate_gate
from workers.finetune.recipe import fine_tune_copy
from workers.finetune.train import TrainingData
from workers.loop import Output, Refused
from workers.reservoir import RealRow, Reservoir

log = logging.getLogger(__name__)
SOURCE = "workers.finetune"
MIN_VALIDATION_ROWS = 30


class FineTuneService:
    """Handles ``synthetic.batches`` records; ``observe`` feeds it ``joined.events`` records."""

    def __init__(
        self,
        settings: WorkerSettings,
        *,
        registry: ModelRegistry,
        runtime: Runtime,
        reservoir: Reservoir | None = None,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.runtime = runtime
        self.reservoir = reservoir or Reservoir(settings.reservoir_size)
        self.backoff = Backoff(settings.backoff_seconds, settings.backoff_max_seconds)
        self.policy = GatePolicy(
            min_gain=settings.gate_min_gain,
            confidence=settings.gate_confidence,
            tolerance=settings.gate_tolerance,
            max_flip_rate=settings.gate_max_flip_rate,
            min_slice_rows=settings.gate_min_slice_rows,
        )

    def observe(self, joined: Mapping[str, Any]) -> None:
        self.reservoir.update(joined["route"], RealRow.from_joined(joined))

    def handle(self, batch: Mapping[str, Any], now: datetime | None = None) -> list[Output]:
        instance, route = batch["instance_id"], batch["route"]
        try:
            info = self.registry.instance(instance)
        except RegistryError as exc:
            raise Refused(reason="unknown_instance", detail=f"instance {instance!r}: {exc}") from None
        if info.route != route:
            raise Refused(
                reason="route_mismatch", detail=f"instance {instance!r} is on route {info.route!r}, not {route!r}"
            )
        if not batch["rows"]:
            log.info(
                "%s: batch %s has no rows (quality guard: %s); nothing to do",
                instance,
                batch["batch_id"],
                batch.get("quality"),
            )
            return []
        now = now or datetime.now(UTC)
        slices = _slices(batch)
        until = self.backoff.until(self.registry.versions(instance), [p.description for p in slices])
        if until is not None and now < until:
            target = ", ".join(repr(p.description) for p in slices) or "all inputs"
            detail = f"instance {instance!r} backs off after rejections for {target} until {until.isoformat()}"
            raise Refused(reason="instance_backoff", detail=detail)
        promoted = self.registry.promoted_version(instance)
        if promoted is None:
            raise Refused(
                reason="no_promoted_version", detail=f"instance {instance!r} has no promoted version to start from"
            )
        old = self.registry.load(instance, promoted, device=self.runtime.device)
        return [("model.versions", self._attempt(batch, old, slices, now))]

    def _attempt(
        self, batch: Mapping[str, Any], old: LoadedModel, slices: list[Slice], now: datetime
    ) -> dict[str, Any]:
        s = self.settings
        instance, family = old.instance_id, old.family
        synthetic = data.synthetic(batch, family)
        split = self.reservoir.split(batch["route"], s.validation_share, s.gate_share)
        validation, _ = data.real(split.validation, family)
        gate, gate_rows = data.real(split.gate, family)
        in_slice = in_any(slices, gate_rows)
        if len(validation) < MIN_VALIDATION_ROWS or int(in_slice.sum()) < s.gate_min_slice_rows:
            detail = (
                f"instance {instance!r}: {len(validation)} held-out validation rows ({MIN_VALIDATION_ROWS} needed) and "
                f"{int(in_slice.sum())} held-out rows in the slice ({s.gate_min_slice_rows} needed)"
            )
            raise Refused(reason="insufficient_data", detail=detail)
        attempt = fine_tune_copy(
            old,
            synthetic,
            data.synthetic_rows(batch),
            real=split.train,
            validation=validation,
            slices=slices,
            replay_rows=round(s.replay_ratio * len(synthetic)),
            settings=s,
            runtime=self.runtime,
        )
        new, result, replayed, anchored = attempt.module, attempt.result, attempt.replayed, attempt.anchored
        old_correct = _correct(old.module, gate, self.runtime)
        new_correct = _correct(new, gate, self.runtime)
        decision = evaluate_gate(old_correct, new_correct, in_slice, self.policy)
        metrics = {
            **decision.metrics,
            "synthetic_rows": float(len(synthetic)),
            "replay_rows": float(len(replayed)),
            "anchor_rows": float(len(anchored)),
            "validation_rows": float(len(validation)),
            "gate_rows": float(len(gate)),
            "epochs_run": float(result.epochs_run),
            "epochs_kept": float(result.epochs_kept),
            "rolled_back_epoch": float(result.rolled_back),
            "validation_loss_before": result.validation_losses[0],
            "validation_loss_after": result.validation_losses[result.epochs_kept],
            "steps": float(result.steps),
            "steps_per_second": result.steps_per_second,
        }
        descriptions = ", ".join(repr(p.description) for p in slices) or "all inputs"
        rollback = (
            f"; epoch {result.epochs_run} made validation worse and was rolled back" if result.rolled_back else ""
        )
        status: Status
        if decision.passed:
            status, reason = "candidate", f"fine-tuned for {descriptions}: {decision.summary}{rollback}"
        else:
            status, reason = "rejected", f"gate failed for {descriptions}: {'; '.join(decision.reasons)}{rollback}"
        meta = self.registry.add_version(
            instance,
            new,
            reason=reason,
            status=status,
            parent=old.version,
            metrics=metrics,
            now=now,
            extra={
                "batch_id": batch["batch_id"],
                "profile_version": batch["profile_version"],
                "target_slices": [p.to_record() for p in slices],
            },
        )
        log.info("%s v%d (from v%d): %s: %s", instance, meta.version, old.version, status, reason)
        return {
            "event_id": uuid.uuid4().hex,
            "instance_id": instance,
            "route": batch["route"],
            "version": meta.version,
            "parent_version": old.version,
            "status": status,
            "ts": now,
            "reason": reason,
            "metrics": metrics,
            "weights_uri": self.registry.weights_uri(instance, meta.version),
            "target_slices": [p.to_record() for p in slices],
        }


def _slices(batch: Mapping[str, Any]) -> list[Slice]:
    try:
        return [Slice.from_record(s) for s in batch.get("slices") or []]
    except (ValueError, KeyError) as exc:
        raise Refused(reason="schema_violation", detail=f"batch {batch['batch_id']}: field 'slices': {exc}") from None


@torch.no_grad()
def _correct(module: torch.nn.Module, data: TrainingData, runtime: Runtime) -> np.ndarray:
    module.eval()
    predicted = module(data.x.to(runtime.device)).argmax(dim=1).cpu()
    return (predicted == data.y).numpy()
