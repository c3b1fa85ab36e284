"""The foundation demo: real parts end to end.

Starts the embedded broker (unless ``INSITU_KAFKA_BOOTSTRAP`` is set), creates
the topics, produces inference and feedback events as JSON lines through
``insitu produce``, reads them back with ``insitu consume``, joins them, writes
them into ClickHouse and queries accuracy per instance.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from infra import clickhouse
from infra.broker import EmbeddedBroker
from infra.config import Settings
from infra.kafka_clients import admin
from infra.topics import create_topics

ROUTE = "credit"
INSTANCES = {"credit-a": 0.05, "credit-b": 0.05, "credit-c": 0.30}  # error rate in the young-applicant region


def sample_events(count: int, seed: int = 7) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Inference events from three instances of one route, and the true labels that follow them."""
    rng = random.Random(seed)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    inferences, feedback = [], []
    for i in range(count):
        instance = rng.choice(sorted(INSTANCES))
        age, income = rng.uniform(18, 80), rng.uniform(10_000, 150_000)
        truth = "approve" if income > 40_000 + 500 * max(0, 30 - age) * 10 else "deny"
        wrong = rng.random() < (INSTANCES[instance] if age < 30 else 0.05)
        prediction = ("deny" if truth == "approve" else "approve") if wrong else truth
        ts = start + timedelta(seconds=i)
        request_id = f"demo-{seed}-{i:06d}"
        inferences.append(
            {
                "request_id": request_id,
                "route": ROUTE,
                "instance_id": instance,
                "model_version": 1,
                "ts": ts.isoformat(),
                "features": {"age": round(age, 1), "income": round(income, 2)},
                "attributes": {"channel": rng.choice(["web", "branch"])},
                "prediction": prediction,
                "probabilities": {prediction: 0.8, "deny" if prediction == "approve" else "approve": 0.2},
            }
        )
        feedback.append({"request_id": request_id, "label": truth, "ts": int((ts.timestamp() + 30) * 1000)})
    return inferences, feedback


def _cli(args: Sequence[str], env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "infra.cli", *args], input=stdin, env=env, capture_output=True, text=True, check=False
    )


def join(inferences: list[dict[str, Any]], feedback: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Joined-event rows for ClickHouse: each inference with its label, by request id."""
    labels = {f["request_id"]: f for f in feedback}
    rows = []
    for event in inferences:
        label = labels.get(event["request_id"])
        if label is None:
            continue
        rows.append(
            {
                "request_id": event["request_id"],
                "route": event["route"],
                "instance_id": event["instance_id"],
                "model_version": event["model_version"],
                "inference_ts": _parse_ts(event["ts"]),
                "feedback_ts": _parse_ts(label["ts"]),
                "features": event["features"],
                "attributes": event["attributes"],
                "prediction": event["prediction"],
                "probabilities": event["probabilities"],
                "label": label["label"],
                "correct": int(event["prediction"] == label["label"]),
            }
        )
    return rows


def _parse_ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


def run_demo(settings: Settings, events: int = 200) -> int:
    started_here = False
    bootstrap = settings.kafka_bootstrap
    if not bootstrap:
        broker = EmbeddedBroker(settings)
        started_here = broker.running_bootstrap() is None
        bootstrap = broker.start()
        print(f"[broker] embedded Kafka at {bootstrap}")
    else:
        print(f"[broker] using {bootstrap}")
    env = {**os.environ, "INSITU_KAFKA_BOOTSTRAP": bootstrap}
    try:
        for report in create_topics(admin(settings), settings):
            print(f"[topics] {str(report).splitlines()[0]}")
        inferences, feedback = sample_events(events)
        bad_line = json.dumps({**inferences[0], "model_version": "one"})
        lines = "\n".join([*map(json.dumps, inferences), bad_line]) + "\n"
        produced = _cli(["produce", "inference.events"], env, lines)
        print(f"[produce] {produced.stderr.strip()}")
        print("[produce] (the malformed last line above was rejected by design: nothing of it was produced)")
        produced = _cli(["produce", "feedback.events"], env, "".join(json.dumps(f) + "\n" for f in feedback))
        if produced.returncode != 0:
            print(produced.stderr, file=sys.stderr)
            return 1
        print(f"[produce] {produced.stderr.strip()}")

        read: dict[str, list[dict[str, Any]]] = {}
        for topic in ("inference.events", "feedback.events"):
            consumed = _cli(["consume", topic, "--from-beginning", "--timeout", "30"], env)
            if consumed.returncode != 0:
                print(consumed.stderr, file=sys.stderr)
                return 1
            read[topic] = [json.loads(line) for line in consumed.stdout.splitlines()]
            print(f"[consume] read back {len(read[topic])} record(s) from {settings.topic(topic)}")

        rows = join(read["inference.events"], read["feedback.events"])
        client = clickhouse.connect(settings)
        try:
            clickhouse.migrate(client)
            clickhouse.insert_rows(client, "joined_events", rows)
            print(f"[clickhouse] wrote {len(rows)} joined event(s) to {clickhouse.redact(settings.clickhouse_target)}")
            sql = (
                "SELECT instance_id, count() AS events, round(avg(correct), 3) AS accuracy, "
                "round(avgIf(correct, features['age'] < 30), 3) AS accuracy_under_30 "
                "FROM joined_events FINAL WHERE route = 'credit' GROUP BY instance_id ORDER BY instance_id"
            )
            print(f"[clickhouse] {sql}")
            print(clickhouse.run_query(client, sql))
        finally:
            client.close()
    finally:
        if started_here:
            EmbeddedBroker(settings).stop()
            print("[broker] stopped")
    return 0
