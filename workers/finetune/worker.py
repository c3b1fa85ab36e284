"""The fine-tune worker process: ``synthetic.batches`` in, ``model.versions`` out, ``joined.events`` as context."""

from __future__ import annotations

import logging

from schemas import Serde
from workers.config import WorkerSettings
from workers.device import Runtime, configure
from workers.finetune.service import SOURCE, FineTuneService
from workers.loop import WorkerLoop
from workers.registry.registry import ModelRegistry
from workers.tail import TailReader

log = logging.getLogger(__name__)


class FineTuneWorker:
    """Wires the service to Kafka. ``run()`` blocks until ``stop()`` (safe from a signal handler or thread).

    Batches are keyed by instance, so one copy of the worker (of the ``finetune``
    consumer group) fine-tunes a given instance at a time and is its registry's one
    writer of new versions. The reservoir of real rows (replay, validation, gate) is the
    whole tail of ``joined.events``, brought up to date before each batch.
    """

    def __init__(self, settings: WorkerSettings, *, runtime: Runtime | None = None) -> None:
        self.settings = settings
        self.runtime = runtime or configure(settings.worker_device, settings.worker_threads)
        serde = Serde.from_settings(settings)
        self.service = FineTuneService(
            settings, registry=ModelRegistry(settings.registry_location), runtime=self.runtime
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
            topic="synthetic.batches",
            group_id=settings.group_id("finetune"),
            source=SOURCE,
            handler=self.service.handle,
            serde=serde,
            before=lambda: self.tail.catch_up(settings.catch_up_seconds),
            idle=lambda: self.tail.poll(0.0),
        )

    def run(self) -> int:
        log.info(
            "fine-tune worker on %s (mixed precision: %s) with %d torch thread(s); registry %s",
            self.runtime.device,
            self.runtime.amp,
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
