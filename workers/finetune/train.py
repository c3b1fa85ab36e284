"""Cautious fine-tuning: a few epochs at a low learning rate, validated after each; worse means roll back.

Each row carries a hard label with a weight (synthetic rows: their label confidence;
replayed real rows: 1) and, optionally, the old version's probabilities with a weight:
a distillation term ``KL(old || new)`` that holds the old behaviour where it was right
(replayed rows outside the weak slice, and anchors just outside its boundary).

The seed design's loop::

    for epoch in range(epochs):
        train one epoch on the mixed rows
        loss = validation loss on held-out real rows
        if loss > previous: restore the weights from before this epoch; stop
        previous = loss

Mixed precision (float16 autocast with a gradient scaler) runs only on CUDA.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from workers.device import Runtime


@dataclass(frozen=True)
class TrainingData:
    """Encoded rows with a hard label and its loss weight, and soft targets with theirs (0: none)."""

    x: torch.Tensor
    y: torch.Tensor
    weight: torch.Tensor
    soft: torch.Tensor
    soft_weight: torch.Tensor

    def __len__(self) -> int:
        return int(self.x.shape[0])

    @staticmethod
    def of(
        x: torch.Tensor,
        y: torch.Tensor,
        weight: torch.Tensor | None = None,
        *,
        classes: int,
        soft: torch.Tensor | None = None,
        soft_weight: torch.Tensor | None = None,
    ) -> TrainingData:
        n = len(x)
        return TrainingData(
            x.float(),
            y.long(),
            torch.ones(n) if weight is None else weight.float(),
            torch.zeros(n, classes) if soft is None else soft.float(),
            torch.zeros(n) if soft_weight is None else soft_weight.float(),
        )

    def take(self, index: torch.Tensor) -> TrainingData:
        return TrainingData(self.x[index], self.y[index], self.weight[index], self.soft[index], self.soft_weight[index])

    @staticmethod
    def concat(*parts: TrainingData) -> TrainingData:
        return TrainingData(*(torch.cat([getattr(p, f) for p in parts]) for f in TrainingData.__dataclass_fields__))


def row_losses(logits: torch.Tensor, data: TrainingData) -> torch.Tensor:
    """Per row: ``weight * CE(y) + soft_weight * KL(soft || softmax(logits))``."""
    log_p = F.log_softmax(logits.float(), dim=1)
    hard = F.nll_loss(log_p, data.y, reduction="none") * data.weight
    kl = (data.soft * (data.soft.clamp_min(1e-8).log() - log_p)).sum(dim=1) * data.soft_weight
    return hard + kl


@dataclass
class FineTuneResult:
    epochs_run: int = 0
    epochs_kept: int = 0
    rolled_back: bool = False
    validation_losses: list[float] = field(default_factory=list)  # [before, after epoch 1, ...]
    steps: int = 0
    seconds: float = 0.0

    @property
    def steps_per_second(self) -> float:
        return self.steps / self.seconds if self.seconds > 0 else 0.0


@torch.no_grad()
def validation_loss(module: nn.Module, data: TrainingData, runtime: Runtime, batch_size: int = 4096) -> float:
    """Mean cross-entropy of ``module`` on ``data``."""
    module.eval()
    total = 0.0
    for start in range(0, len(data), batch_size):
        x = data.x[start : start + batch_size].to(runtime.device)
        y = data.y[start : start + batch_size].to(runtime.device)
        with runtime.autocast():
            logits = module(x)
        total += float(F.cross_entropy(logits.float(), y, reduction="sum"))
    return total / max(1, len(data))


def fine_tune(
    module: nn.Module,
    train: TrainingData,
    validation: TrainingData,
    *,
    epochs: int,
    lr: float,
    batch_size: int,
    runtime: Runtime,
    seed: int | None = None,
    max_grad_norm: float | None = None,
) -> FineTuneResult:
    """Fine-tune ``module`` in place; on a worse validation loss its weights go back one epoch and training stops.

    >>> from workers.device import Runtime
    >>> torch.manual_seed(0) and None
    >>> net = nn.Linear(2, 2)
    >>> data = TrainingData.of(torch.randn(64, 2), torch.randint(0, 2, (64,)), classes=2)
    >>> result = fine_tune(net, data, data, epochs=2, lr=1e-3, batch_size=16, runtime=Runtime(torch.device("cpu")))
    >>> result.epochs_run, len(result.validation_losses)
    (2, 3)
    """
    if not 1 <= epochs <= 3:
        msg = f"fine-tuning runs 1 to 3 epochs, got {epochs}"
        raise ValueError(msg)
    if len(train) == 0:
        msg = "no rows to fine-tune on"
        raise ValueError(msg)
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    module.to(runtime.device)
    optimiser = torch.optim.AdamW(module.parameters(), lr=lr, weight_decay=0.0)
    scaler = runtime.scaler()
    result = FineTuneResult()
    previous = validation_loss(module, validation, runtime)
    result.validation_losses.append(previous)
    started = time.perf_counter()
    for _ in range(epochs):
        before = copy.deepcopy(module.state_dict())
        module.train()
        order = torch.randperm(len(train), generator=generator)
        for start in range(0, len(train), batch_size):
            batch = _to(train.take(order[start : start + batch_size]), runtime.device)
            optimiser.zero_grad(set_to_none=True)
            with runtime.autocast():
                logits = module(batch.x)
            loss = row_losses(logits, batch).mean()
            scaler.scale(loss).backward()
            if max_grad_norm is not None:
                scaler.unscale_(optimiser)
                nn.utils.clip_grad_norm_(module.parameters(), max_grad_norm)
            scaler.step(optimiser)
            scaler.update()
            result.steps += 1
        result.epochs_run += 1
        current = validation_loss(module, validation, runtime)
        result.validation_losses.append(current)
        if current > previous:
            module.load_state_dict(before)
            result.rolled_back = True
            break
        previous = current
        result.epochs_kept += 1
    result.seconds = time.perf_counter() - started
    module.eval()
    return result


def _to(data: TrainingData, device: torch.device) -> TrainingData:
    return TrainingData(*(getattr(data, f).to(device) for f in TrainingData.__dataclass_fields__))
