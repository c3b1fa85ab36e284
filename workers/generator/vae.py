"""A class-conditional tabular VAE with control inputs and an auxiliary classifier.

``p(x | z, y, c)``: numeric features are Gaussian (a mean per row, a learned variance per
feature), each categorical feature is a softmax. The encoder ``q(z | x, y, c)`` gives the
latent neighbourhoods of real rows. The auxiliary classifier ``q(y | x, c)`` is trained
on real rows only; it scores how well a generated row fits the class it was conditioned
on (the confidence of the ``conditioning`` label source).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class VAEConfig:
    n_numeric: int
    cat_sizes: tuple[int, ...]
    n_labels: int
    n_controls: int = 0
    latent: int = 8
    hidden: int = 128

    @property
    def width(self) -> int:
        return self.n_numeric + sum(self.cat_sizes)

    def to_json(self) -> dict[str, Any]:
        return {**vars(self), "cat_sizes": list(self.cat_sizes)}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> VAEConfig:
        return cls(**{**raw, "cat_sizes": tuple(raw["cat_sizes"])})


def _mlp(inputs: int, hidden: int, outputs: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(inputs, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, outputs)
    )


class ConditionalTabularVAE(nn.Module):
    """The network; ``TabularGenerator`` wraps it with the codec, training and sampling.

    >>> vae = ConditionalTabularVAE(VAEConfig(n_numeric=2, cat_sizes=(3,), n_labels=2, latent=4, hidden=16))
    >>> x, y = torch.zeros(5, 5), torch.zeros(5, dtype=torch.long)
    >>> loss, parts = vae.loss(x, y, torch.zeros(5, 0))
    >>> sorted(parts)
    ['classifier', 'kl', 'reconstruction']
    >>> numeric, logits = vae.decode(torch.zeros(5, 4), y, torch.zeros(5, 0))
    >>> numeric.shape, [t.shape for t in logits]
    (torch.Size([5, 2]), [torch.Size([5, 3])])
    """

    def __init__(self, config: VAEConfig) -> None:
        super().__init__()
        self.config = config
        condition = config.n_labels + config.n_controls
        self.encoder = _mlp(config.width + condition, config.hidden, 2 * config.latent)
        self.decoder = _mlp(config.latent + condition, config.hidden, config.width)
        self.numeric_logvar = nn.Parameter(torch.zeros(config.n_numeric))
        self.classifier = _mlp(config.width + config.n_controls, config.hidden, config.n_labels)

    def _condition(self, y: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return torch.cat([F.one_hot(y, self.config.n_labels).to(c.dtype), c], dim=1)

    def encode(self, x: torch.Tensor, y: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior mean and log-variance of ``z``."""
        mu, logvar = self.encoder(torch.cat([x, self._condition(y, c)], dim=1)).chunk(2, dim=1)
        return mu, logvar.clamp(-10.0, 10.0)

    def decode(self, z: torch.Tensor, y: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Numeric means (standardised) and one logit tensor per categorical feature."""
        out = self.decoder(torch.cat([z, self._condition(y, c)], dim=1))
        numeric = out[:, : self.config.n_numeric]
        logits = list(out[:, self.config.n_numeric :].split(list(self.config.cat_sizes), dim=1))
        return numeric, logits

    def classify(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """Logits of ``q(y | x, c)``."""
        return self.classifier(torch.cat([x, c], dim=1))

    def loss(
        self, x: torch.Tensor, y: torch.Tensor, c: torch.Tensor, beta: float = 1.0
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Negative ELBO (per row) plus the auxiliary classifier's cross-entropy."""
        mu, logvar = self.encode(x, y, c)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        numeric, logits = self.decode(z, y, c)
        n = self.config.n_numeric
        recon = torch.zeros((), device=x.device)
        if n:
            var = self.numeric_logvar.exp()
            recon = recon + 0.5 * (((x[:, :n] - numeric) ** 2) / var + self.numeric_logvar).sum(dim=1).mean()
        at = n
        for size, logit in zip(self.config.cat_sizes, logits, strict=True):
            target = x[:, at : at + size]
            recon = recon - (target * F.log_softmax(logit, dim=1)).sum(dim=1).mean()
            at += size
        kl = (-0.5 * (1 + logvar - mu**2 - logvar.exp()).sum(dim=1)).mean()
        classifier = F.cross_entropy(self.classify(x, c), y)
        total = recon + beta * kl + classifier
        return total, {
            "reconstruction": float(recon.detach()),
            "kl": float(kl.detach()),
            "classifier": float(classifier.detach()),
        }


def split_logits(logits: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """Softmax of each categorical feature's logits."""
    return [torch.softmax(t.float(), dim=1) for t in logits]
