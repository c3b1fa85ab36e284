"""The generator worker process: ``profile.changes`` in, ``synthetic.batches`` out, ``joined.events`` as context."""

from __future__ import annotations

from infra.registry.registry import ModelRegistry
from workers.config import WorkerSettings
from workers.device import Runtime, configure
from workers.generator.plugins import RoutePlugins
from workers.generator.service import SOURCE, GeneratorService
from workers.generator.trainer import GeneratorTrainer
from workers.process import ServiceWorker


class GeneratorWorker(ServiceWorker):
    """Each copy joins the ``generator`` consumer group for ``profile.changes`` and reads
    the whole tail of ``joined.events`` for its reservoir (every route), bringing it up
    to date before each change is handled.
    """

    def __init__(
        self, settings: WorkerSettings, *, plugins: RoutePlugins | None = None, runtime: Runtime | None = None
    ) -> None:
        runtime = runtime or configure(settings.worker_device, settings.worker_threads)
        self.plugins = plugins or RoutePlugins.from_settings(settings.label_functions, settings.controls)
        service = GeneratorService(
            settings,
            registry=ModelRegistry(settings.registry_location),
            trainer=GeneratorTrainer.from_settings(settings, runtime),
            plugins=self.plugins,
            runtime=runtime,
        )
        super().__init__(settings, runtime, service, topic="profile.changes", worker="generator", source=SOURCE)
