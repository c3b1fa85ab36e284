"""Cautious fine-tuning: a worse validation loss restores the epoch's starting weights and stops."""

from __future__ import annotations

import torch
from torch import nn

from workers.device import Runtime
from workers.finetune.train import TrainingData, fine_tune, row_losses

CPU = Runtime(torch.device("cpu"))


def separable(n: int, seed: int, flip: bool = False) -> TrainingData:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, generator=g)
    y = (x[:, 0] > 0).long()
    return TrainingData.of(x, 1 - y if flip else y, classes=2)


def weights(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in module.state_dict().items()}


def test_helpful_epochs_are_kept():
    torch.manual_seed(0)
    net = nn.Linear(2, 2)
    result = fine_tune(net, separable(512, 1), separable(256, 2), epochs=3, lr=0.05, batch_size=32, runtime=CPU, seed=0)
    assert result.epochs_run == result.epochs_kept == 3 and not result.rolled_back
    assert result.validation_losses[-1] < result.validation_losses[0]
    assert result.steps == 3 * 16 and result.steps_per_second > 0


def test_a_harmful_epoch_is_rolled_back():
    torch.manual_seed(0)
    net = nn.Linear(2, 2)
    fine_tune(net, separable(512, 1), separable(256, 2), epochs=3, lr=0.05, batch_size=32, runtime=CPU, seed=0)
    good = weights(net)
    result = fine_tune(
        net, separable(512, 3, flip=True), separable(256, 2), epochs=3, lr=0.05, batch_size=32, runtime=CPU, seed=0
    )
    assert result.rolled_back and result.epochs_run == 1 and result.epochs_kept == 0
    assert all(torch.equal(good[k], v) for k, v in net.state_dict().items()), "weights restored"


def test_soft_targets_pull_towards_the_old_probabilities():
    logits = torch.tensor([[2.0, 0.0], [0.0, 2.0]])
    soft = torch.softmax(logits, dim=1)
    data = TrainingData.of(
        torch.zeros(2, 2), torch.zeros(2), torch.zeros(2), classes=2, soft=soft, soft_weight=torch.ones(2)
    )
    assert torch.allclose(row_losses(logits, data), torch.zeros(2), atol=1e-6)  # KL(p || p) = 0
    assert (row_losses(logits.flip(1), data) > 0.5).all()


def test_epochs_outside_one_to_three_are_refused():
    import pytest

    with pytest.raises(ValueError, match="1 to 3 epochs"):
        fine_tune(nn.Linear(2, 2), separable(8, 0), separable(8, 0), epochs=5, lr=0.1, batch_size=4, runtime=CPU)
