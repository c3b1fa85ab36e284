"""The fine-tune worker process: ``synthetic.batches`` in, ``model.versions`` out, ``joined.events`` as context."""

from __future__ import annotations

from infra.registry.registry import ModelRegistry
from workers.config import WorkerSettings
from workers.device import Runtime, configure
from workers.finetune.service import SOURCE, FineTuneService
from workers.process import ServiceWorker


class FineTuneWorker(ServiceWorker):
    """Batches are keyed by instance, so one copy of the worker (of the ``finetune``
    consumer group) fine-tunes a given instance at a time and is its registry's one
    writer of new versions. The reservoir of real rows (replay, validation, gate) is the
    whole tail of ``joined.events``, brought up to date before each batch.
    """

    def __init__(self, settings: WorkerSettings, *, runtime: Runtime | None = None) -> None:
        runtime = runtime or configure(settings.worker_device, settings.worker_threads)
        service = FineTuneService(settings, registry=ModelRegistry(settings.registry_location), runtime=runtime)
        super().__init__(settings, runtime, service, topic="synthetic.batches", worker="finetune", source=SOURCE)
