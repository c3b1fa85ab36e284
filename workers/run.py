"""``python -m workers.generator`` / ``python -m workers.finetune``: run one worker until SIGTERM or SIGINT."""

from __future__ import annotations

import sys
from typing import Literal

from pydantic import ValidationError

from infra.process import configure_logging, ensure_topics, stop_on_signals
from workers.config import WorkerSettings

Kind = Literal["generator", "finetune"]


def run(kind: Kind, settings: WorkerSettings) -> int:
    """Run the ``kind`` worker; it finishes the message in hand, commits and exits on a signal."""
    if kind == "generator":
        from workers.generator.worker import GeneratorWorker

        worker: GeneratorWorker | FineTuneWorker = GeneratorWorker(settings)
    else:
        from workers.finetune.worker import FineTuneWorker

        worker = FineTuneWorker(settings)
    configure_logging("info")
    ensure_topics(settings)  # subscribing to a missing topic would wait
    stop_on_signals(worker.stop)
    return int(worker.run())


def main(kind: Kind) -> int:
    try:
        settings = WorkerSettings()
    except ValidationError as exc:
        print(f"workers.{kind}: invalid configuration:\n{exc}", file=sys.stderr)
        return 2
    return run(kind, settings)
