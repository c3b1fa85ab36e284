"""The done-when scenario against the real broker: Agrawal, one instance that barely saw ``age >= 60``."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pytest

from infra.registry.registry import ModelRegistry
from tests.workers import scenario
from tests.workers.conftest import Running, ScenarioModels, profile_change, send, wait_for
from workers.config import WorkerSettings, worker_settings
from workers.finetune.worker import FineTuneWorker
from workers.generator.worker import GeneratorWorker

pytestmark = pytest.mark.kafka
WEAK, STRONG = "agrawal-a", "agrawal-b"


def settings_for(kafka_topics: Any, **overrides: Any) -> WorkerSettings:
    return worker_settings(
        kafka_topics,
        worker_seed=0,
        worker_threads=1,
        worker_device="cpu",
        label_functions={scenario.ROUTE: ["tests.workers.scenario:agrawal_rule"]},
        **overrides,
    )


def registry_with_instances(settings: WorkerSettings, models: ScenarioModels) -> ModelRegistry:
    registry = ModelRegistry(settings.registry_location)
    for instance, module in ((WEAK, models.weak), (STRONG, models.strong)):
        registry.add_instance(instance, route=scenario.ROUTE, family=models.family)
        registry.add_version(instance, module, reason="deployed", status="promoted")
    return registry


def traffic(models: ScenarioModels, n: int = 5000) -> list[dict[str, Any]]:
    """Real labelled traffic, served half by each instance, as the streams worker would emit it."""
    served = {WEAK: (models.weak, models.family), STRONG: (models.strong, models.family)}
    return scenario.joined_events(scenario.draw(n, seed=7), served, prefix="live")


def test_targeted_batch_and_fine_tuned_candidate(kafka_topics, scenario_models):
    settings = settings_for(kafka_topics)
    registry = registry_with_instances(settings, scenario_models)
    send(settings, "joined.events", traffic(scenario_models))
    send(settings, "profile.changes", [profile_change(WEAK)])

    with Running(GeneratorWorker(settings)), Running(FineTuneWorker(settings)):
        versions = wait_for(settings, "model.versions", lambda records: len(records) >= 1)
    (batch,) = wait_for(settings, "synthetic.batches", lambda records: len(records) >= 1)

    # The batch: aimed at the slice, labelled by the route's rule, quality reported.
    rows = batch["rows"]
    assert batch["instance_id"] == WEAK and batch["target_slices"] == ["age >= 60"]
    assert len(rows) >= settings.synthetic_rows // 2
    inside = np.mean([scenario.SLICE.contains(r["features"], r["attributes"]) for r in rows])
    assert inside >= 0.9
    by_rule = [r for r in rows if r["label_source"] == "rule:agrawal_rule"]
    assert by_rule, Counter(r["label_source"] for r in rows)
    assert all(r["label"] == scenario.agrawal_rule(r["features"], r["attributes"]) for r in by_rule)
    assert 0 < batch["acceptance_rate"] <= 1
    assert batch["quality"]["guard_passed"] == 1.0
    assert 0.0 <= batch["quality"]["discriminator_auc"] < settings.quality_max_auc
    assert batch["quality"]["teachers"] == 1.0  # agrawal-b is strong on the slice
    assert {r["origin"] for r in rows} <= {"slice", "neighbourhood"}

    # The candidate: registered, announced, better on held-out real rows of the slice, not worse elsewhere.
    (event,) = versions
    assert event["status"] == "candidate", event["reason"]
    assert event["parent_version"] == 1 and event["version"] == 2
    assert event["target_slices"][0]["description"] == "age >= 60"
    assert registry.promoted_version(WEAK) == 1
    assert registry.version(WEAK, 2).status == "candidate"
    candidate = registry.load(WEAK, 2).module
    held_in, held_out = scenario.split_by_slice(scenario.draw(4000, seed=99))
    old_in, new_in = (scenario.accuracy(m, scenario_models.family, held_in) for m in (scenario_models.weak, candidate))
    old_out, new_out = (
        scenario.accuracy(m, scenario_models.family, held_out) for m in (scenario_models.weak, candidate)
    )
    print(f"held-out slice {old_in:.3f} -> {new_in:.3f}, complement {old_out:.3f} -> {new_out:.3f}")
    assert new_in >= old_in + 0.2, (old_in, new_in)
    assert new_out >= old_out - 0.01, (old_out, new_out)


def test_wrong_labels_are_rejected_and_the_promoted_version_is_untouched(kafka_topics, scenario_models):
    settings = settings_for(kafka_topics)
    registry = registry_with_instances(settings, scenario_models)
    promoted = registry.version(WEAK, 1)
    weights = registry.storage.read_bytes("instances/agrawal-a/versions/000001/weights.safetensors")
    send(settings, "joined.events", traffic(scenario_models))
    in_slice, _ = scenario.split_by_slice(scenario.draw(3000, seed=21))
    wrong = [
        {
            "features": features,
            "attributes": attributes,
            "label": "yes" if label == "no" else "no",  # every label flipped
            "label_source": "rule:agrawal_rule",
            "confidence": 1.0,
            "origin": "slice",
        }
        for (features, attributes), label in in_slice[:1000]
    ]
    send(settings, "synthetic.batches", [batch_record(wrong, "wrong-1"), batch_record(wrong, "wrong-2")])

    with Running(FineTuneWorker(settings)):
        (event,) = wait_for(settings, "model.versions", lambda records: len(records) >= 1)
        backoff = wait_for(settings, "deadletter", lambda records: len(records) >= 1)

    assert event["status"] == "rejected" and event["version"] == 2
    assert "slice gain" in event["reason"] or "validation worse" in event["reason"], event["reason"]
    assert event["metrics"]["slice_gain_low"] < settings.gate_min_gain, event["metrics"]
    assert registry.version(WEAK, 2).status == "rejected"
    assert registry.promoted_version(WEAK) == 1
    assert registry.version(WEAK, 1) == promoted
    assert registry.storage.read_bytes("instances/agrawal-a/versions/000001/weights.safetensors") == weights
    # The second batch arrives while the instance backs off: kept in deadletter, not trained on.
    assert [(d["reason"], d["source"]) for d in backoff] == [("instance_backoff", "workers.finetune")]


def batch_record(rows: list[dict[str, Any]], batch_id: str) -> dict[str, Any]:
    return {
        "batch_id": batch_id,
        "instance_id": WEAK,
        "route": scenario.ROUTE,
        "model_version": 1,
        "profile_version": 1,
        "created_ts": 0,
        "target_slices": ["age >= 60"],
        "rows": rows,
        "acceptance_rate": 1.0,
        "dropped": 0,
        "quality": {},
        "slices": [scenario.SLICE.to_record()],
        "change_id": "",
    }
