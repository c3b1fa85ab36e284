"""A registry stand-in: tiny torch classifiers whose favourite class is their version's label."""

from __future__ import annotations

import threading

import torch

LABELS = ("approve", "deny", "review")


class Registry:
    """``load(instance, version)`` -> (module, feature names, labels); versions in ``gated`` wait for ``release``."""

    def __init__(self, gated: set[tuple[str, int]] | None = None, broken: set[tuple[str, int]] | None = None) -> None:
        self.gated = gated or set()
        self.broken = broken or set()
        self.released = threading.Event()
        self.loads: list[tuple[str, int | None]] = []

    def load(self, instance_id: str, version: int | None = None):
        key = (instance_id, version or 1)
        self.loads.append((instance_id, version))
        if key in self.gated:
            assert self.released.wait(30), "test never released the gated load"
        if key in self.broken:
            msg = f"weights of {instance_id} v{version} are missing"
            raise OSError(msg)
        module = torch.nn.Linear(2, len(LABELS))
        with torch.no_grad():
            module.weight.zero_()
            module.bias.copy_(torch.tensor([5.0 if i == (key[1] - 1) % 3 else 0.0 for i in range(3)]))
        return module, ["age", "income"], LABELS


def label_of(version: int) -> str:
    return LABELS[(version - 1) % 3]
