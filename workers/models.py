"""``TabularMLP``: the default model family class for tabular classifiers."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class TabularMLP(nn.Module):
    """A multi-layer perceptron over an encoded feature vector; returns class logits.

    Declare it in a family as ``{"module": "workers.models:TabularMLP", "kwargs": {"in_features": 12,
    "n_classes": 2, "hidden": [64, 64]}}``; ``in_features`` is the family's encoded width.

    >>> model = TabularMLP(in_features=3, n_classes=2, hidden=[8])
    >>> model(torch.zeros(5, 3)).shape
    torch.Size([5, 2])
    """

    def __init__(
        self, in_features: int, n_classes: int, hidden: Sequence[int] = (64, 64), dropout: float = 0.0
    ) -> None:
        super().__init__()
        if in_features < 1 or n_classes < 2:
            msg = f"TabularMLP needs in_features >= 1 and n_classes >= 2, got {in_features} and {n_classes}"
            raise ValueError(msg)
        layers: list[nn.Module] = []
        width = in_features
        for units in hidden:
            layers += [nn.Linear(width, units), nn.ReLU()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = units
        layers.append(nn.Linear(width, n_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
