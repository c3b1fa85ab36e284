"""``insitu up`` starts every process against the configured cluster and stops them all on SIGINT."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

pytestmark = pytest.mark.kafka


def test_up_runs_the_processes_until_interrupted(kafka_settings, tmp_path):
    env = {**os.environ, **kafka_settings.environment()}
    up = subprocess.Popen(
        [sys.executable, "-m", "infra.app.cli", "up"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    logs = tmp_path / "logs"
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(up.stdout or []), daemon=True)
    reader.start()
    deadline = time.monotonic() + 240
    try:
        while not any("insitu is up" in line for line in lines):  # ready: Ctrl-C now stops it in order
            assert up.poll() is None, "".join(lines)
            assert time.monotonic() < deadline, _read(logs / "streams.log")[-2000:]
            time.sleep(0.5)
        assert "Worker ready" in _read(logs / "streams.log")
    finally:
        up.send_signal(signal.SIGINT)
        up.wait(120)
        reader.join(10)
    out = "".join(lines)
    assert up.returncode == 0, out
    assert "stopping" in out
    assert {p.name for p in logs.iterdir()} == {"streams.log", "sink.log", "generator.log", "finetune.log"}
    assert "stopped" in _read(logs / "generator.log") and "stopped" in _read(logs / "finetune.log")


def _read(path):
    return path.read_text(errors="replace") if path.exists() else ""
