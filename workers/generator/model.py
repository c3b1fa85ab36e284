"""``TabularGenerator``: the conditional VAE with its codec: train on real rows, sample rows, score them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from workers.device import Runtime
from workers.generator.codec import Row, TabularCodec
from workers.generator.vae import ConditionalTabularVAE, VAEConfig, split_logits


@dataclass
class Sample:
    """Generated rows with the class and controls they were conditioned on and their encoded form."""

    rows: list[Row]
    labels: np.ndarray  # class index per row
    controls: np.ndarray  # raw control values per row (n, controls)
    x: np.ndarray  # the rows re-encoded by the codec (after clipping, rounding, category draws)

    def __len__(self) -> int:
        return len(self.rows)

    def take(self, mask: np.ndarray) -> Sample:
        index = np.flatnonzero(mask)
        return Sample([self.rows[i] for i in index], self.labels[index], self.controls[index], self.x[index])

    @staticmethod
    def concat(parts: Sequence[Sample], n_controls: int, width: int) -> Sample:
        parts = [p for p in parts if len(p)]
        if not parts:
            return Sample([], np.zeros(0, dtype=np.int64), np.zeros((0, n_controls)), np.zeros((0, width)))
        return Sample(
            [r for p in parts for r in p.rows],
            np.concatenate([p.labels for p in parts]),
            np.concatenate([p.controls for p in parts]),
            np.concatenate([p.x for p in parts]),
        )


class TabularGenerator:
    """A class-conditional generator of tabular rows.

    >>> from workers.device import Runtime
    >>> codec = TabularCodec.for_family(_doc_family()).fit([({"x": float(i)}, {}) for i in range(10)])
    >>> gen = TabularGenerator(codec, ("a", "b"), Runtime(torch.device("cpu")), latent=2, hidden=8)
    >>> rows = [({"x": float(i)}, {}) for i in range(20)]
    >>> losses = gen.fit(rows, np.array([i % 2 for i in range(20)]), None, epochs=2, seed=0)
    >>> len(gen.sample(np.array([0, 1, 1]), None, seed=0).rows)
    3
    """

    def __init__(
        self,
        codec: TabularCodec,
        labels: Sequence[str],
        runtime: Runtime,
        *,
        latent: int = 8,
        hidden: int = 128,
        vae: ConditionalTabularVAE | None = None,
    ) -> None:
        self.codec = codec
        self.labels = tuple(labels)
        self.runtime = runtime
        config = VAEConfig(
            codec.n_numeric, tuple(codec.cat_sizes), len(self.labels), len(codec.controls), latent, hidden
        )
        self.vae = (vae or ConditionalTabularVAE(config)).to(runtime.device)
        self.epochs_trained = 0
        # Scale of the per-feature noise added to the decoder's means when sampling: 1 matches
        # tabular marginals; 0 suits image-like inputs, where independent noise per pixel
        # would wash out structure such as blur.
        self.noise = 1.0

    @property
    def config(self) -> VAEConfig:
        return self.vae.config

    def _tensors(self, x: np.ndarray, c: np.ndarray | None, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        device = self.runtime.device
        controls = self._controls(c, n)
        return (
            torch.as_tensor(x, dtype=torch.float32, device=device),
            torch.as_tensor(self.codec.scale_controls(controls), dtype=torch.float32, device=device),
        )

    def _controls(self, c: np.ndarray | None, n: int) -> np.ndarray:
        if c is None:
            return np.zeros((n, len(self.codec.controls)), dtype=np.float32)
        return np.asarray(c, dtype=np.float32).reshape(n, len(self.codec.controls))

    def fit(
        self,
        rows: Sequence[Row],
        labels: np.ndarray,
        controls: np.ndarray | None,
        *,
        epochs: int,
        lr: float = 2e-3,
        batch_size: int = 128,
        seed: int | None = None,
        anneal: bool = True,
    ) -> list[float]:
        """Train (or keep training: a warm start) on real rows; returns the mean loss per epoch."""
        if len(rows) == 0:
            msg = "no rows to train the generator on"
            raise ValueError(msg)
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        if seed is not None:
            torch.manual_seed(seed)
        x, c = self._tensors(self.codec.encode(rows), controls, len(rows))
        y = torch.as_tensor(labels, dtype=torch.long, device=self.runtime.device)
        optimiser = torch.optim.Adam(self.vae.parameters(), lr=lr)
        scaler = self.runtime.scaler()
        history = []
        self.vae.train()
        for epoch in range(epochs):
            beta = min(1.0, (epoch + 1) / max(1.0, 0.3 * epochs)) if anneal else 1.0
            order = torch.randperm(len(rows), generator=generator).to(self.runtime.device)
            total = 0.0
            for start in range(0, len(rows), batch_size):
                index = order[start : start + batch_size]
                optimiser.zero_grad(set_to_none=True)
                with self.runtime.autocast():
                    loss, _ = self.vae.loss(x[index], y[index], c[index], beta=beta)
                scaler.scale(loss).backward()
                scaler.step(optimiser)
                scaler.update()
                total += float(loss.detach()) * len(index)
            history.append(total / len(rows))
        self.vae.eval()
        self.epochs_trained += epochs
        return history

    @torch.no_grad()
    def sample(
        self,
        labels: np.ndarray,
        controls: np.ndarray | None,
        *,
        z: np.ndarray | None = None,
        seed: int | None = None,
    ) -> Sample:
        """Rows conditioned on class indices ``labels`` and raw ``controls``; ``z`` defaults to the prior."""
        n = len(labels)
        rng = np.random.default_rng(seed)
        latent = rng.standard_normal((n, self.config.latent)) if z is None else z
        zt = torch.as_tensor(latent, dtype=torch.float32, device=self.runtime.device)
        y = torch.as_tensor(labels, dtype=torch.long, device=self.runtime.device)
        raw_controls = self._controls(controls, n)
        _, c = self._tensors(np.zeros((n, self.codec.width)), raw_controls, n)
        self.vae.eval()
        numeric, logits = self.vae.decode(zt, y, c)
        sd = (0.5 * self.vae.numeric_logvar.float()).exp()
        noise = torch.as_tensor(rng.standard_normal(tuple(numeric.shape)), dtype=torch.float32, device=zt.device)
        numeric = numeric.float() + noise * sd * self.noise
        rows = self.codec.decode(numeric.cpu().numpy(), [p.cpu().numpy() for p in split_logits(logits)], rng)
        return Sample(rows, np.asarray(labels, dtype=np.int64), raw_controls, self.codec.encode(rows))

    @torch.no_grad()
    def posterior(
        self, rows: Sequence[Row], labels: np.ndarray, controls: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation of ``q(z | x, y, c)`` for real rows."""
        x, c = self._tensors(self.codec.encode(rows), controls, len(rows))
        y = torch.as_tensor(labels, dtype=torch.long, device=self.runtime.device)
        self.vae.eval()
        mu, logvar = self.vae.encode(x, y, c)
        return mu.float().cpu().numpy(), (0.5 * logvar.float()).exp().cpu().numpy()

    @torch.no_grad()
    def class_probabilities(self, x: np.ndarray, controls: np.ndarray | None) -> np.ndarray:
        """``q(y | x, c)`` for encoded rows (n, classes)."""
        xt, c = self._tensors(x, controls, len(x))
        self.vae.eval()
        return torch.softmax(self.vae.classify(xt, c).float(), dim=1).cpu().numpy()

    # -- checkpoint --------------------------------------------------------------------------------

    def state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """Weights (for safetensors) and everything else (JSON) needed to rebuild this generator."""
        weights = {k: v.detach().cpu().contiguous() for k, v in self.vae.state_dict().items()}
        meta = {
            "codec": self.codec.to_json(),
            "labels": list(self.labels),
            "vae": self.config.to_json(),
            "epochs_trained": self.epochs_trained,
        }
        return weights, meta

    @classmethod
    def restore(cls, weights: dict[str, torch.Tensor], meta: dict[str, Any], runtime: Runtime) -> TabularGenerator:
        config = VAEConfig.from_json(meta["vae"])
        vae = ConditionalTabularVAE(config)
        vae.load_state_dict(weights, strict=True)
        gen = cls(TabularCodec.from_json(meta["codec"]), meta["labels"], runtime, vae=vae)
        gen.epochs_trained = int(meta.get("epochs_trained", 0))
        return gen


def _doc_family() -> Any:
    from infra.registry.family import ModelFamily

    return ModelFamily.from_json(
        {
            "name": "doc",
            "module": "workers.models:TabularMLP",
            "kwargs": {},
            "features": [{"name": "x", "kind": "numeric", "mean": 5, "std": 3}],
            "labels": ["a", "b"],
        }
    )
