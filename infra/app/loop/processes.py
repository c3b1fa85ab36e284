"""Start, watch and stop insitu's processes: streams worker, analytics sink, generator, fine-tuner.

Each runs as its own Python process (the Faust app reads its settings at import, chDB
is one engine per process, torch work should not share the GIL), with its output in
``<log_dir>/<name>.log``. Stopping is SIGTERM (each finishes the message in hand,
flushes and commits), then SIGKILL after a grace period.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProcessSpec:
    name: str
    args: tuple[str, ...]
    ready_line: str | None = None  # a line in its log that says it is ready


STREAMS = ProcessSpec("streams", ("-m", "streams.worker", "info"), ready_line="Worker ready")
SINK = ProcessSpec("sink", ("-m", "streams.sink"))
GENERATOR = ProcessSpec("generator", ("-m", "workers.generator"))
FINETUNE = ProcessSpec("finetune", ("-m", "workers.finetune"))
ALL = (STREAMS, SINK, GENERATOR, FINETUNE)


class Processes:
    """The processes of ``specs``, started with ``env``; a context manager that stops them all."""

    def __init__(self, specs: Sequence[ProcessSpec], env: Mapping[str, str], log_dir: Path) -> None:
        self.specs = list(specs)
        self.env = dict(env)
        self.log_dir = log_dir
        self.running: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: list[IO[bytes]] = []

    def start(self, ready_timeout: float = 180.0) -> Processes:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for spec in self.specs:
            out = open(self.log_path(spec.name), "ab")  # noqa: SIM115 (closed in stop())
            self._logs.append(out)
            self.running[spec.name] = subprocess.Popen(
                [sys.executable, *spec.args], env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
            log.info("started %s (pid %d), log %s", spec.name, self.running[spec.name].pid, self.log_path(spec.name))
        deadline = time.monotonic() + ready_timeout
        for spec in self.specs:
            while spec.ready_line and spec.ready_line not in self.log_path(spec.name).read_text(errors="replace"):
                self.check()
                if time.monotonic() > deadline:
                    msg = f"{spec.name} not ready after {ready_timeout:.0f}s:\n{self.tail(spec.name)}"
                    raise RuntimeError(msg)
                time.sleep(0.5)
        return self

    def log_path(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def tail(self, name: str, lines: int = 30) -> str:
        path = self.log_path(name)
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def check(self) -> None:
        """Raise if a process has exited (none of them should before ``stop``)."""
        for name, process in self.running.items():
            code = process.poll()
            if code is not None:
                msg = f"{name} exited with {code}; the end of {self.log_path(name)}:\n{self.tail(name)}"
                raise RuntimeError(msg)

    def stop(self, names: Sequence[str] | None = None, grace: float = 30.0) -> None:
        chosen = [n for n in (names or list(self.running)) if n in self.running]
        for name in chosen:
            if self.running[name].poll() is None:
                self.running[name].send_signal(signal.SIGTERM)
        for name in chosen:
            process = self.running.pop(name)
            try:
                process.wait(grace)
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop within %.0fs; killed", name, grace)
                process.kill()
                process.wait(10)
        if not self.running:
            for out in self._logs:
                out.close()
            self._logs.clear()

    def __enter__(self) -> Processes:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def process_env(**settings: str) -> dict[str, str]:
    """This process's environment with the given ``INSITU_*`` settings and unbuffered Python output."""
    return {**os.environ, **settings, "PYTHONUNBUFFERED": "1"}
