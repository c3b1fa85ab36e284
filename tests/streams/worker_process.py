"""Run streams workers as separate processes (the Faust app reads its settings at import)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

from infra.config import Settings
from infra.topic_reader import read_all
from schemas import Serde


def worker_env(settings: Settings, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        **settings.environment(),
        "INSITU_SNAPSHOT_INTERVAL": "1",
        "INSITU_LAG_INTERVAL": "1",
        **extra,
    }


class WorkerProcess:
    """One ``python -m streams.worker`` with its log in a file."""

    MODULE = "streams.worker"
    NAME = "streams worker"
    ARGS: tuple[str, ...] = ()

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, wait_ready: float = 120.0) -> Self:
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.MODULE, "info", *self.ARGS],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + wait_ready
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                msg = f"{self.NAME} exited with {self.process.returncode}:\n{self.tail()}"
                raise RuntimeError(msg)
            if "Worker ready" in self.log.read_text(errors="replace"):
                return self
            time.sleep(0.5)
        msg = f"{self.NAME} not ready after {wait_ready}s:\n{self.tail()}"
        raise RuntimeError(msg)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def read_topic(
    settings: Settings,
    topic: str,
    until: Callable[[list[dict[str, Any]]], bool],
    timeout: float = 180.0,
) -> list[dict[str, Any]]:
    """Every committed record of a catalog topic, re-read until ``until(records)`` holds."""
    serde = Serde()
    deadline = time.monotonic() + timeout
    records: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        records = _read_all(settings, topic, serde)
        if until(records):
            return records
        time.sleep(1.0)
    msg = f"{topic}: condition not met within {timeout}s; last read {len(records)} record(s)"
    raise AssertionError(msg)


def _read_all(settings: Settings, topic: str, serde: Serde) -> list[dict[str, Any]]:
    return [
        m.record if m.record is not None else {"undecodable": m.value}
        for m in read_all(settings, topic, serde=serde, timeout=60.0)
        if m.value is not None
    ]
