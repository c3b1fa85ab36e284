"""Bad input to the workers goes to ``deadletter`` with a reason, and the workers keep going (real broker)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.workers import scenario
from tests.workers.conftest import Running, ScenarioModels, profile_change, send, send_raw, wait_for
from tests.workers.test_scenario import STRONG, WEAK, batch_record, registry_with_instances, settings_for
from workers.finetune.worker import FineTuneWorker
from workers.generator.worker import GeneratorWorker

pytestmark = pytest.mark.kafka


def reasons(records: list[dict[str, Any]]) -> list[str]:
    return sorted(r["reason"] for r in records)


def test_generator_dead_letters_what_it_cannot_use(kafka_topics, scenario_models: ScenarioModels):
    settings = settings_for(kafka_topics)
    registry_with_instances(settings, scenario_models)
    send_raw(settings, "profile.changes", b"agrawal-a", b"\x00\x00\x00\x00\x07not avro")
    send(
        settings,
        "profile.changes",
        [
            profile_change("ghost"),  # not in the registry
            profile_change(WEAK, route="elsewhere"),  # the instance serves another route
            profile_change(STRONG),  # no joined events yet: too few real rows to train a generator
        ],
    )
    with Running(GeneratorWorker(settings)):
        dead = wait_for(settings, "deadletter", lambda records: len(records) >= 4)
    assert reasons(dead) == ["insufficient_data", "route_mismatch", "undecodable", "unknown_instance"]
    assert all(d["source"] == "workers.generator" for d in dead)
    assert all(d["original_topic"] == settings.topic("profile.changes") and d["detail"] for d in dead)


def test_finetune_dead_letters_what_it_cannot_use(kafka_topics, scenario_models: ScenarioModels):
    settings = settings_for(kafka_topics)
    registry = registry_with_instances(settings, scenario_models)
    good_row = {
        "features": {name: 1.0 for name in scenario.NUMERIC},
        "attributes": {"elevel": "1", "zipcode": "2"},
        "label": "yes",
        "label_source": "rule:agrawal_rule",
        "confidence": 1.0,
        "origin": "slice",
    }
    missing_feature = {**good_row, "features": {"age": 70.0}}
    unknown_label = {**good_row, "label": "maybe"}
    send_raw(settings, "synthetic.batches", b"agrawal-a", b"{not even json")
    ghost = {**batch_record([good_row], "ghost"), "instance_id": "ghost"}
    send(
        settings,
        "synthetic.batches",
        [ghost, batch_record([missing_feature], "missing"), batch_record([unknown_label], "label")],
    )
    with Running(FineTuneWorker(settings)):
        dead = wait_for(settings, "deadletter", lambda records: len(records) >= 4)
    assert reasons(dead) == ["invalid_batch", "invalid_batch", "undecodable", "unknown_instance"]
    details = " | ".join(d["detail"] for d in dead)
    assert "rows." in details and "maybe" in details, details
    assert registry.versions(WEAK)[-1].version == 1, "nothing was trained on bad batches"
