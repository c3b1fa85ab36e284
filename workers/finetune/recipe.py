"""The cautious recipe: a copy of the promoted version, fine-tuned on the target rows beside replayed
real rows (distilled to the old probabilities outside the slices) and boundary anchors.

The fine-tune worker runs it on a synthetic batch; the alternatives benchmark runs the same
recipe on other target rows, so both measure one thing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from infra.registry.registry import LoadedModel
from schemas.slices import Slice
from workers.config import WorkerSettings
from workers.device import Runtime
from workers.finetune import data
from workers.finetune.train import FineTuneResult, TrainingData, fine_tune
from workers.reservoir import RealRow


@dataclass(frozen=True)
class Attempt:
    """The fine-tuned copy and what it was trained on besides the target rows."""

    module: nn.Module
    result: FineTuneResult
    replayed: TrainingData
    anchored: TrainingData


def fine_tune_copy(
    old: LoadedModel,
    target: TrainingData,
    target_rows: Sequence[data.Row],
    *,
    real: Sequence[RealRow],
    validation: TrainingData,
    slices: Sequence[Slice],
    replay_rows: int,
    settings: WorkerSettings,
    runtime: Runtime,
) -> Attempt:
    """Fine-tune a copy of ``old`` on ``target`` + ``replay_rows`` of ``real`` + one anchor per target row."""
    s, family = settings, old.family
    rng = np.random.default_rng(s.worker_seed)
    replayed = data.replay(real, family, old, slices, replay_rows, distill=s.distill_weight, rng=rng)
    anchored = data.anchors(target_rows, family, old, slices, weight=s.anchor_weight, rng=rng)
    new = family.build()
    new.load_state_dict(old.module.state_dict())
    if s.worker_seed is not None:
        torch.manual_seed(s.worker_seed)
    result = fine_tune(
        new,
        TrainingData.concat(target, replayed, anchored),
        validation,
        epochs=s.finetune_epochs,
        lr=s.finetune_lr,
        batch_size=s.finetune_batch_size,
        runtime=runtime,
        seed=s.worker_seed,
        max_grad_norm=s.finetune_max_grad_norm,
    )
    return Attempt(new, result, replayed, anchored)
