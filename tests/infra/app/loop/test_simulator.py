"""Deployment and the traffic simulator against the real broker: events, labels later, phases respected."""

from __future__ import annotations

import threading

import pytest

from infra.app.loop.instances import deploy, training_rows
from infra.app.loop.progress import Progress
from infra.app.loop.simulator import TrafficSimulator
from infra.app.scenarios import load_scenario
from infra.gateway import ReferenceGateway
from infra.registry.registry import ModelRegistry
from tests.infra.gateway.weights_log import WeightsLog, vector
from tests.streams.worker_process import read_topic

pytestmark = pytest.mark.kafka


def small_scenario():
    scenario = load_scenario("agrawal")
    instances = [i.model_copy(update={"train_rows": 600}) for i in scenario.instances[:2]]
    phases = [
        scenario.phases[0].model_copy(update={"duration_s": 1.5}),
        scenario.phases[1].model_copy(update={"duration_s": 1.5}),
    ]
    traffic = scenario.traffic.model_copy(update={"rate": 200.0, "feedback_delay_s": (0.1, 0.5)})
    model = scenario.model.model_copy(update={"epochs": 2})
    weaknesses = [w for w in scenario.weaknesses if w.instance in {i.id for i in instances}]
    return scenario.model_copy(
        update={"instances": instances, "phases": phases, "traffic": traffic, "model": model, "weaknesses": weaknesses}
    )


def test_instances_barely_see_their_region():
    scenario = small_scenario()
    region = scenario.instances[0].barely_saw
    rows = training_rows(scenario, 0)
    assert sum(region.contains(*r) for r, _ in rows) == scenario.instances[0].keep
    assert len(training_rows(scenario, 1)) < scenario.instances[1].train_rows


def test_deployed_instances_serve_simulated_traffic_and_labels_follow(kafka_topics):
    scenario = small_scenario()
    registry = ModelRegistry(str(kafka_topics.data_dir / "registry"))
    accuracies = deploy(kafka_topics, scenario, registry)
    assert set(accuracies) == {"agrawal-a", "agrawal-b"}
    assert deploy(kafka_topics, scenario, registry) == {}, "a second deployment changes nothing"
    announced = read_topic(kafka_topics, "model.versions", lambda r: len(r) >= 2)
    assert sorted((a["instance_id"], a["version"], a["status"]) for a in announced) == [
        ("agrawal-a", 1, "promoted"),
        ("agrawal-b", 1, "promoted"),
    ]

    log = WeightsLog(kafka_topics)
    log.send(scenario.route, vector(scenario.route, 1, ("agrawal-a", 1, 0.5), ("agrawal-b", 1, 0.5)))
    log.flush()
    progress = Progress(kafka_topics).start()
    with ReferenceGateway(kafka_topics, registry) as gateway:
        simulator = TrafficSimulator(kafka_topics, scenario, gateway, run_id="t")
        stats = simulator.run(threading.Event())
    assert stats.errors == 0 and stats.requests == stats.feedback
    assert 400 <= stats.requests <= 610  # 3 s at 200/s
    assert set(stats.served) == {"agrawal-a", "agrawal-b"}

    inferences = read_topic(kafka_topics, "inference.events", lambda r: len(r) >= stats.requests)
    labels = read_topic(kafka_topics, "feedback.events", lambda r: len(r) >= stats.requests)
    assert {e["request_id"] for e in inferences} == {f["request_id"] for f in labels}
    assert len(inferences) == stats.requests

    young = scenario.phases[0].exclude
    drift_began = simulator.phase_started["drift"]
    before = [e for e in inferences if e["ts"].timestamp() < drift_began - 0.05]
    after = [e for e in inferences if e["ts"].timestamp() > drift_began + 0.05]
    assert before and not any(young.contains(e["features"], e["attributes"]) for e in before)
    share = sum(young.contains(e["features"], e["attributes"]) for e in after) / len(after)
    assert 0.35 < share < 0.65  # the drift phase draws half its requests under 40

    progress.stop()
    picture = progress.snapshot()
    assert picture.weights[scenario.route][0]["instance_id"] == "agrawal-a"
    assert any("agrawal-a" in line and "share 50.0%" in line for line in progress.lines(scenario.route))
