"""``insitu demo``: the closed loop on embedded defaults, a scenario's traffic, live progress, a report.
``insitu up``: the same processes without the simulator, for real use.

A demo run gets a folder of its own (``<data dir>/runs/<run id>``: registry, generators,
ClickHouse, process logs) and a topic prefix of its own, so runs never mix; the
embedded broker is shared and stopped at the end if the demo started it.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from infra.app.loop.heal import heal_time
from infra.app.loop.instances import deploy
from infra.app.loop.processes import ALL, Processes, process_env
from infra.app.loop.progress import Progress
from infra.app.loop.simulator import TrafficSimulator
from infra.app.scenarios import Scenario, load_scenario
from infra.broker import EmbeddedBroker
from infra.config import Settings
from infra.gateway import ReferenceGateway
from infra.kafka_clients import admin
from infra.registry.registry import ModelRegistry
from infra.topics import create_topics

log = logging.getLogger(__name__)
SETTLE_SECONDS = 20.0  # after the traffic stops: the last labels are joined, snapshotted and written


def say(text: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {text}", flush=True)


def _broker(settings: Settings) -> tuple[str, EmbeddedBroker | None]:
    if settings.kafka_bootstrap:
        return settings.kafka_bootstrap, None
    broker = EmbeddedBroker(settings)
    started_here = broker.running_bootstrap() is None
    bootstrap = broker.start()
    say(f"embedded Kafka at {bootstrap}")
    return bootstrap, broker if started_here else None


def child_env(settings: Settings, scenario: Scenario | None = None) -> dict[str, str]:
    extra = {**settings.environment(), "INSITU_WORKER_THREADS": "1"}
    if scenario is not None:
        extra.update(scenario.settings)
        extra["INSITU_LABEL_FUNCTIONS"] = json.dumps({scenario.route: scenario.label_functions})
        extra["INSITU_CONTROLS"] = json.dumps({scenario.route: scenario.controls} if scenario.controls else {})
    return process_env(**extra)


def run_demo(
    settings: Settings, scenario_name: str = "agrawal", *, speed: float = 1.0, report: Path | None = None
) -> int:
    scenario = load_scenario(scenario_name)
    if speed != 1.0:
        scenario = scenario.scaled(1.0 / speed)
    run_id = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    run_dir = (settings.data_dir / "runs" / run_id).resolve()
    report_dir = report or run_dir / "report"
    bootstrap, broker = _broker(settings)
    run = settings.model_copy(
        update={"kafka_bootstrap": bootstrap, "topic_prefix": f"{scenario.name}-{run_id}.", "data_dir": run_dir}
    )
    started = time.monotonic()
    previous_term = signal.signal(signal.SIGTERM, _terminate)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        create_topics(admin(run), run)
        say(f"scenario {scenario.name!r}: {scenario.description}")
        say(f"run folder {run_dir}, topic prefix {run.topic_prefix!r}")
        registry = ModelRegistry(str(run_dir / "registry"))
        accuracies = deploy(run, scenario, registry)
        say("deployed " + ", ".join(f"{i} (accuracy {a:.3f})" for i, a in accuracies.items()))
        with Processes(ALL, child_env(run, scenario), run_dir / "logs") as processes:
            say("streams worker, analytics sink, generator and fine-tuner running (logs in runs/.../logs)")
            progress = Progress(run).start()
            try:
                _wait_for_weights(progress, scenario.route, processes)
                context = _simulate(run, scenario, registry, progress, processes, run_id)
                say(f"traffic done; letting the last labels through ({SETTLE_SECONDS:.0f}s)")
                _settle(processes, SETTLE_SECONDS)
                processes.stop(["generator", "finetune", "streams"])
                time.sleep(5.0)  # the sink writes what the streams worker emitted last
                processes.stop(["sink"])
            finally:
                progress.stop()
        context["seconds_total"] = round(time.monotonic() - started, 1)
        path = _report(run, report_dir, scenario, context)
        say(f"report: {path}")
        for name, value in context["time_to_heal_s"].items():
            say(f"time to heal {name}: " + (f"{value:.0f}s" if value is not None else "not healed in this run"))
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous_term)
        if broker is not None:
            broker.stop()


def _terminate(signum: int, frame: object) -> None:
    """SIGTERM unwinds like Ctrl-C would, so the processes and the embedded broker are stopped."""
    raise SystemExit(128 + signum)


def _wait_for_weights(progress: Progress, route: str, processes: Processes, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not progress.snapshot().weights.get(route):
        processes.check()
        if time.monotonic() > deadline:
            msg = f"no routing weights for route {route!r} after {timeout:.0f}s; see {processes.log_path('streams')}"
            raise RuntimeError(msg)
        time.sleep(0.5)


def _simulate(
    run: Settings, scenario: Scenario, registry: ModelRegistry, progress: Progress, processes: Processes, run_id: str
) -> dict[str, Any]:
    stop = threading.Event()
    with ReferenceGateway(run, registry) as gateway:
        simulator = TrafficSimulator(run, scenario, gateway, run_id=run_id)
        thread = threading.Thread(target=simulator.run, args=(stop,), name="insitu-traffic", daemon=True)
        began = time.time()
        thread.start()
        last_count, last_time = 0, time.monotonic()
        previous = signal.signal(signal.SIGINT, lambda *_: stop.set())
        try:
            while thread.is_alive():
                thread.join(10.0)
                processes.check()
                now = time.monotonic()
                rate = (simulator.stats.requests - last_count) / (now - last_time)
                last_count, last_time = simulator.stats.requests, now
                say(
                    f"t={time.time() - began:4.0f}s phase {simulator.stats.phase!r}: {rate:5.0f} events/s, "
                    f"{simulator.stats.requests} requests, {simulator.stats.feedback} labels"
                )
                for line in progress.lines(scenario.route):
                    print(line, flush=True)
        finally:
            stop.set()
            thread.join(30)
            signal.signal(signal.SIGINT, previous)
    picture = progress.snapshot()
    heal = {
        f"{w.instance} on {w.slice.description}": heal_time(
            picture.weight_history, w.instance, simulator.phase_started.get(w.phase, float("inf"))
        )
        for w in scenario.weaknesses
    }
    return {
        "scenario": scenario.name,
        "run_id": run_id,
        "route": scenario.route,
        "requests": simulator.stats.requests,
        "labels": simulator.stats.feedback,
        "failed_requests": simulator.stats.errors,
        "phases": {name: round(ts - began, 1) for name, ts in simulator.phase_started.items()},
        "served": dict(simulator.stats.served),
        "time_to_heal_s": heal,
    }


def _settle(processes: Processes, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        processes.check()
        time.sleep(1.0)


def _report(run: Settings, report_dir: Path, scenario: Scenario, context: dict[str, Any]) -> Path:
    from infra import clickhouse
    from infra.app.report import build_report

    client = clickhouse.connect(run)
    try:
        return build_report(client, report_dir, title=f"insitu demo: {scenario.name}", context=context)
    finally:
        client.close()


def run_up(settings: Settings) -> int:
    """Broker (unless one is configured), topics, streams worker, sink, generator, fine-tuner; until Ctrl-C."""
    bootstrap, broker = _broker(settings)
    run = settings.model_copy(update={"kafka_bootstrap": bootstrap})
    stop = threading.Event()
    try:
        create_topics(admin(run), run)
        with Processes(ALL, child_env(run), run.data_dir / "logs"):
            say(f"insitu is up on {bootstrap} (logs in {run.data_dir / 'logs'}); Ctrl-C stops it")
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: stop.set())
            stop.wait()
            say("stopping")
        return 0
    finally:
        if broker is not None:
            broker.stop()
