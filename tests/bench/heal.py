"""Time to heal in the demo scenarios, on CPU: ``insitu demo`` run as a user runs it, its summary read.

From the moment a planted weakness starts (its phase begins) to the moment versions newer
than the one then serving carry most of that instance's traffic. ``python -m
tests.bench.heal [--scenario NAME] [--runs N]`` prints the table, every run's rows (N demo runs
in a row, not the best of them); ``run(settings)`` returns one run of each scenario (the bench's
broker is reused; the run gets its own data folder and topic prefix).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from infra.config import Settings

SCENARIOS = ("agrawal", "digits")


def heal(scenario: str, bootstrap: str | None) -> list[tuple[str, str]]:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "INSITU_DATA_DIR": tmp}
        if bootstrap:
            env["INSITU_KAFKA_BOOTSTRAP"] = bootstrap
        report = Path(tmp) / "report"
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "infra.app.cli", "demo", "--scenario", scenario, "--report", str(report)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = time.monotonic() - started
        if result.returncode != 0:
            return [(f"{scenario}: demo failed", result.stderr.strip().splitlines()[-1] if result.stderr else "?")]
        context = json.loads((report / "summary.json").read_text())["context"]
    rows = [(f"{scenario}: whole demo run (deploy, traffic, settle, report)", f"{seconds:.0f} s")]
    for weakness, value in context["time_to_heal_s"].items():
        rows.append((f"{scenario}: time to heal {weakness}", f"{value:.0f} s" if value is not None else "not healed"))
    return rows


def run(settings: Settings) -> list[tuple[str, str]]:
    return [row for scenario in SCENARIOS for row in heal(scenario, settings.kafka_bootstrap)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scenario", default="agrawal")
    parser.add_argument("--runs", type=int, default=1, help="demo runs in a row, each one reported")
    args = parser.parse_args()
    for n in range(1, args.runs + 1):
        for name, value in heal(args.scenario, os.environ.get("INSITU_KAFKA_BOOTSTRAP")):
            print(f"| run {n} of {args.runs}: {name} | {value} |", flush=True)


if __name__ == "__main__":
    main()
