"""The generator worker process: ``profile.changes`` in, ``synthetic.batches`` out, ``joined.events`` as context."""

from __future__ import annotations

import logging

from schemas import Serde
from workers.config import WorkerSettings
from workers.device import Runtime, configure
from workers.generator.plugins import RoutePlugins
from workers.generator.service import SOURCE, GeneratorService
from workers.generator.store import GeneratorStore
from workers.generator.trainer import GeneratorTrainer
from workers.loop import WorkerLoop
from workers.registry.registry import ModelRegistry
from workers.tail import TailReader

log = logging.getLogger(__name__)


class GeneratorWorker:
    """Wires the service to Kafka. ``run()`` blocks until ``stop()`` (safe from a signal handler or thread).

    Each copy joins the ``generator`` consumer group for ``profile.changes`` and reads
    the whole tail of ``joined.events`` for its reservoir (every route), bringing it up
    to date before each change is handled.
    """

    def __init__(
        self, settings: WorkerSettings, *, plugins: RoutePlugins | None = None, runtime: Runtime | None = None
    ) -> None:
        self.settings = settings
        self.runtime = runtime or configure(settings.worker_device, settings.worker_threads)
        self.plugins = plugins or RoutePlugins.from_settings(settings.label_functions, settings.controls)
        serde = Serde.from_settings(settings)
        trainer = GeneratorTrainer(
            GeneratorStore(settings.generator_location),
            self.runtime,
            epochs=settings.generator_epochs,
            warm_epochs=settings.generator_warm_epochs,
            retrain_rows=settings.generator_retrain_rows,
            latent=settings.generator_latent,
            hidden=settings.generator_hidden,
            lr=settings.generator_lr,
            seed=settings.worker_seed,
        )
        self.service = GeneratorService(
            settings,
            registry=ModelRegistry(settings.registry_location),
            trainer=trainer,
            plugins=self.plugins,
            runtime=self.runtime,
        )
        self.tail = TailReader(
            settings,
            "joined.events",
            depth=settings.reservoir_size,
            on_record=self.service.observe,
            serde=serde,
            name=SOURCE,
        )
        self.loop = WorkerLoop(
            settings,
            topic="profile.changes",
            group_id=settings.group_id("generator"),
            source=SOURCE,
            handler=self.service.handle,
            serde=serde,
            before=lambda: self.tail.catch_up(settings.catch_up_seconds),
            idle=lambda: self.tail.poll(0.0),
        )

    def run(self) -> int:
        log.info(
            "generator worker on %s with %d torch thread(s); registry %s",
            self.runtime.device,
            self.settings.worker_threads,
            self.settings.registry_location,
        )
        self.tail.start()
        try:
            self.loop.run()
        finally:
            self.tail.close()
        return 0

    def stop(self) -> None:
        self.loop.stop()
