"""`insitu demo` end to end, as a user runs it (its own process: chDB is one engine per process)."""

from __future__ import annotations

import os
import subprocess
import sys


def test_demo_runs_end_to_end_against_the_broker(kafka_settings):
    env = {
        **os.environ,
        "INSITU_KAFKA_BOOTSTRAP": kafka_settings.kafka_bootstrap or "",
        "INSITU_TOPIC_PREFIX": kafka_settings.topic_prefix,
        "INSITU_DATA_DIR": str(kafka_settings.data_dir),
    }
    result = subprocess.run(
        [sys.executable, "-m", "infra.cli", "demo", "--events", "60"],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "produced 60 record(s)" in result.stdout
    assert "line 61: field 'model_version': expected an integer" in result.stdout
    assert "read back 60 record(s)" in result.stdout
    assert "wrote 60 joined event(s)" in result.stdout
    table = result.stdout.split("GROUP BY instance_id ORDER BY instance_id\n", 1)[1]
    assert table.splitlines()[0].split(" | ")[0].strip() == "instance_id"
    assert "(3 rows)" in table
    counts = [int(line.split("|")[1]) for line in table.splitlines()[2:5]]
    assert sum(counts) == 60
