"""What both worker processes share: a service fed by the tail of ``joined.events``, one input topic.

The service's ``observe(record)`` keeps its reservoir from every ``joined.events``
record, read to the end before each input message is handled (``catch_up``) and
followed while idle; ``handle(record)`` turns one input record into outputs, run by
``WorkerLoop``. ``run()`` blocks until ``stop()`` (safe from a signal handler or thread).
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from schemas import Serde
from workers.config import WorkerSettings
from workers.device import Runtime
from workers.loop import Output, WorkerLoop
from workers.tail import TailReader

log = logging.getLogger(__name__)


class Service(Protocol):
    def observe(self, joined: Any) -> None: ...

    def handle(self, record: Any) -> list[Output]: ...


class ServiceWorker:
    def __init__(
        self,
        settings: WorkerSettings,
        runtime: Runtime,
        service: Service,
        *,
        topic: str,
        worker: str,
        source: str,
    ) -> None:
        self.settings = settings
        self.runtime = runtime
        self.service = service
        serde = Serde.from_settings(settings)
        self.tail = TailReader(
            settings,
            "joined.events",
            depth=settings.reservoir_size,
            on_record=service.observe,
            serde=serde,
            name=source,
        )
        self.loop = WorkerLoop(
            settings,
            topic=topic,
            group_id=settings.group_id(worker),
            source=source,
            handler=service.handle,
            serde=serde,
            before=lambda: self.tail.catch_up(settings.catch_up_seconds),
            idle=lambda: self.tail.poll(0.0),
        )
        self.source = source

    def run(self) -> int:
        log.info(
            "%s on %s (mixed precision: %s) with %d torch thread(s); registry %s",
            self.source,
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
