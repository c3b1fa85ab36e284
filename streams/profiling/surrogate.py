"""Surrogates of an instance when its served model is not at hand: small MLPs fitted on its window.

Two targets (``fit_surrogate``):

- the instance's *predictions* (multi-class logits): explaining it explains how the instance
  decides;
- the instance's *errors* (boolean targets: one logit, "this prediction is wrong"): explaining it
  explains where the instance goes wrong, which is what error attribution is after.

``fidelity`` is the share of the window's targets the surrogate reproduces; attributions carry
it in their ``method``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run torch with ``threads`` intra-op threads (process-wide setting), restored afterwards."""
    if threads is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass(frozen=True)
class Surrogate:
    """A trained imitation: ``module`` maps encoded inputs to logits over ``classes``.

    For boolean targets ``classes`` is ``("wrong",)`` and the module has one logit.
    """

    module: nn.Module
    classes: tuple[str, ...]
    fidelity: float


def fit_surrogate(
    x: np.ndarray,
    targets: np.ndarray,
    *,
    hidden: int = 32,
    epochs: int = 300,
    lr: float = 0.01,
    seed: int = 0,
    threads: int | None = 1,
) -> Surrogate:
    """Train an MLP (two ReLU layers) on ``x`` to reproduce ``targets``; full-batch Adam.

    ``targets``: labels (multi-class, cross-entropy) or booleans (one logit, binary
    cross-entropy). Seeded through a forked RNG: the caller's torch random state is left alone.

    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(300, 2)).astype(np.float32)
    >>> s = fit_surrogate(x, np.where(x[:, 0] > 0, "a", "b").astype(object), epochs=100)
    >>> s.classes, s.fidelity > 0.95
    (('a', 'b'), True)
    >>> fit_surrogate(x, x[:, 1] > 1, epochs=100).classes
    ('wrong',)
    """
    inputs = torch.as_tensor(np.asarray(x, dtype=np.float32))
    binary = np.asarray(targets).dtype == bool
    if binary:
        classes = np.array(["wrong"])
        labels = torch.as_tensor(np.asarray(targets, dtype=np.float32)).unsqueeze(1)
        loss_fn: nn.Module = nn.BCEWithLogitsLoss()
    else:
        classes, target = np.unique(np.asarray(targets).astype(str), return_inverse=True)
        labels = torch.as_tensor(target, dtype=torch.long)
        loss_fn = nn.CrossEntropyLoss()
    with torch_threads(threads), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        module = nn.Sequential(
            nn.Linear(inputs.shape[1], hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, 1 if binary else max(2, len(classes))),
        )
        optimiser = torch.optim.Adam(module.parameters(), lr=lr)
        for _ in range(epochs):
            optimiser.zero_grad()
            loss = loss_fn(module(inputs), labels)
            loss.backward()
            optimiser.step()
        module.eval()
        with torch.no_grad():
            out = module(inputs)
            hits = (out > 0).float() == labels if binary else out.argmax(1) == labels
            fidelity = float(hits.float().mean())
    return Surrogate(module, tuple(str(c) for c in classes), fidelity)
