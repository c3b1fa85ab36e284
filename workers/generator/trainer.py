"""Keep each route's generator trained on its reservoir: reuse, warm-start or train from scratch, and save.

A generator is reused while fewer than ``retrain_rows`` new real rows arrived since it
was trained; then it is warm-started (a few epochs from its current weights, ranges
widened to the new rows) and saved. A process that starts finds the saved generator and
warm-starts it if the rows differ from those it was trained on; with no usable
checkpoint it trains from scratch.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from infra.registry.family import ModelFamily
from workers.config import WorkerSettings
from workers.device import Runtime
from workers.generator.codec import TabularCodec
from workers.generator.model import TabularGenerator
from workers.generator.store import GeneratorStore, generator_key
from workers.reservoir import RealRow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingReport:
    epochs: int  # epochs trained for this request (0: reused)
    warm: bool
    total_epochs: int
    rows: int


def rows_fingerprint(rows: Sequence[RealRow]) -> str:
    digest = hashlib.sha256()
    for row in rows:
        digest.update(row.request_id.encode())
        digest.update(b"\0")
    return digest.hexdigest()


class GeneratorTrainer:
    """Hands out a trained generator per (route, input layout)."""

    def __init__(
        self,
        store: GeneratorStore,
        runtime: Runtime,
        *,
        epochs: int,
        warm_epochs: int,
        retrain_rows: int,
        latent: int,
        hidden: int,
        lr: float,
        noise: float = 1.0,
        seed: int | None = None,
    ) -> None:
        self.store = store
        self.runtime = runtime
        self.epochs = epochs
        self.warm_epochs = warm_epochs
        self.retrain_rows = retrain_rows
        self.latent = latent
        self.hidden = hidden
        self.lr = lr
        self.noise = noise
        self.seed = seed
        self._cache: dict[str, tuple[TabularGenerator, int]] = {}  # key -> (generator, rows seen when trained)

    @classmethod
    def from_settings(cls, settings: WorkerSettings, runtime: Runtime) -> GeneratorTrainer:
        """The trainer a worker runs with: its store, epochs, size and seed from ``settings``."""
        return cls(
            GeneratorStore(settings.generator_location),
            runtime,
            epochs=settings.generator_epochs,
            warm_epochs=settings.generator_warm_epochs,
            retrain_rows=settings.generator_retrain_rows,
            latent=settings.generator_latent,
            hidden=settings.generator_hidden,
            lr=settings.generator_lr,
            noise=settings.generator_noise,
            seed=settings.worker_seed,
        )

    def get(
        self,
        route: str,
        family: ModelFamily,
        controls: Sequence[str],
        rows: Sequence[RealRow],
        control_values: np.ndarray,
        seen: int,
    ) -> tuple[TabularGenerator, TrainingReport]:
        """A generator for ``route`` trained on ``rows`` (their labels must be ``family`` labels).

        ``seen`` counts the route's rows ever read, to tell whether the reservoir changed.
        """
        key = generator_key(route, family, controls, self.latent, self.hidden)
        cached = self._cache.get(key)
        if cached is not None and seen - cached[1] < self.retrain_rows:
            return cached[0], TrainingReport(0, False, cached[0].epochs_trained, len(rows))
        fingerprint = rows_fingerprint(rows)
        gen: TabularGenerator | None = cached[0] if cached is not None else None
        if gen is None:
            try:
                loaded = self.store.load(key, self.runtime)
            except ValueError as exc:
                log.warning("training the generator of route %r from scratch: %s", route, exc)
                loaded = None
            if loaded is not None:
                gen, extra = loaded
                if extra.get("rows_fingerprint") == fingerprint:
                    self._remember(key, gen, seen)
                    return gen, TrainingReport(0, False, gen.epochs_trained, len(rows))
        labels = np.array([family.label_index(r.label) for r in rows], dtype=np.int64)
        data = [r.row for r in rows]
        warm = gen is not None
        if gen is None:
            codec = TabularCodec.for_family(family, controls).fit(data, control_values)
            gen = TabularGenerator(codec, family.labels, self.runtime, latent=self.latent, hidden=self.hidden)
        else:
            gen.codec = gen.codec.fit(data, control_values)
        epochs = self.warm_epochs if warm else self.epochs
        losses = gen.fit(data, labels, control_values, epochs=epochs, lr=self.lr, seed=self.seed, anneal=not warm)
        log.info(
            "generator of route %r %s for %d epochs on %d rows (loss %.3f -> %.3f)",
            route,
            "warm-started" if warm else "trained",
            epochs,
            len(rows),
            losses[0],
            losses[-1],
        )
        self.store.save(
            key,
            gen,
            {"rows_fingerprint": fingerprint, "rows": len(rows), "trained_at": datetime.now(UTC).isoformat()},
        )
        self._remember(key, gen, seen)
        return gen, TrainingReport(epochs, warm, gen.epochs_trained, len(rows))

    def _remember(self, key: str, gen: TabularGenerator, seen: int) -> None:
        """Keep ``gen`` for its key, sampling with this trainer's noise."""
        gen.noise = self.noise
        self._cache[key] = (gen, seen)
