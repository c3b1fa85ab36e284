"""Pure mappings: every sink topic's sample record -> the rows of its table."""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from infra.clickhouse import load_migrations
from schemas import Serde
from streams.sink.mapping import TABLES, MappingError, as_json, route_removed, to_rows
from tests.samples import SAMPLES, SLICE

SERDE = Serde()
TS = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def record(topic: str, **changes: Any) -> dict[str, Any]:
    """The sample of ``topic`` as ``Serde.decode`` would return it, with ``changes``."""
    return SERDE.from_json(topic, SAMPLES[topic]) | changes


def rows(topic: str, **changes: Any) -> list[dict[str, Any]]:
    return to_rows(topic, record(topic, **changes))[1]


def table_columns() -> dict[str, tuple[set[str], set[str]]]:
    """Per table created by the migrations: (all columns, columns with a DEFAULT), added columns included."""
    columns: dict[str, tuple[set[str], set[str]]] = {}
    for migration in load_migrations():
        for statement in migration.statements:
            added = re.match(r"ALTER TABLE (\w+) ADD COLUMN IF NOT EXISTS (\w+) (.*)", statement, re.DOTALL)
            if added is not None:
                names, defaults = columns[added.group(1)]
                names.add(added.group(2))
                if " DEFAULT " in f" {added.group(3)} ":
                    defaults.add(added.group(2))
                continue
            match = re.match(r"CREATE TABLE IF NOT EXISTS (\w+)\s*\((.*)\)\s*ENGINE", statement, re.DOTALL)
            if match is None:
                continue
            defs = [line.strip() for line in match.group(2).splitlines() if line.strip()]
            names = {d.split()[0] for d in defs}
            defaults = {d.split()[0] for d in defs if " DEFAULT " in d}
            columns[match.group(1)] = (names, defaults)
    return columns


@pytest.mark.parametrize("topic", sorted(TABLES))
def test_every_topic_maps_to_exactly_the_columns_of_its_table(topic: str) -> None:
    table, mapped = to_rows(topic, record(topic))
    names, defaults = table_columns()[table]
    assert mapped
    for row in mapped:
        assert names - defaults <= set(row) <= names


def test_joined_event() -> None:
    assert rows("joined.events") == [
        {
            "request_id": "req-1",
            "route": "credit",
            "instance_id": "credit-a",
            "model_version": 3,
            "inference_ts": TS,
            "feedback_ts": TS,
            "features": {"age": 31.0},
            "attributes": {"region": "north"},
            "prediction": "approve",
            "probabilities": {},
            "label": "deny",
            "correct": 0,
        }
    ]
    assert rows("joined.events", correct=True)[0]["correct"] == 1


def test_metrics_snapshot_splits_per_class_and_keeps_confusion_as_json() -> None:
    per_class = [
        {"label": "approve", "precision": 0.9, "recall": 0.95, "f1": 0.92, "support": 6},
        {"label": "deny", "precision": 0.5, "recall": 0.25, "f1": 0.33, "support": 4},
    ]
    (row,) = rows("metrics.snapshots", per_class=per_class)
    assert row["per_class_precision"] == {"approve": 0.9, "deny": 0.5}
    assert row["per_class_recall"] == {"approve": 0.95, "deny": 0.25}
    assert row["per_class_f1"] == {"approve": 0.92, "deny": 0.33}
    assert row["per_class_support"] == {"approve": 6, "deny": 4}
    assert json.loads(row["confusion"]) == [{"label": "deny", "predicted": "approve", "count": 1}]
    assert (row["window"], row["window_start"], row["labelled"], row["unlabelled"]) == ("15m", TS, 10, 2)


def test_profile_top_slice_slices_and_full_profile() -> None:
    (row,) = rows("profiles")
    assert row["top_slice"] == SLICE["description"]
    assert json.loads(row["slices"])[0]["predicate"][1] == {
        "feature": "region",
        "low": None,
        "high": None,
        "value": "north",
    }
    full = json.loads(row["profile"])
    assert full["profile_version"] == 7 and full["created_ts"] == "2026-11-24T10:00:00.000Z"
    assert full["confusion_pairs"] == [{"label": "deny", "predicted": "approve", "count": 40}]
    assert (row["drift_detected"], row["shap_attribution"], row["events"]) == (0, {"age": 0.3}, 2000)


def test_profile_without_slices_drifting_and_with_nan_is_valid_json() -> None:
    drift = {"detected": True, "detected_ts": TS, "detectors": ["adwin"]}
    (row,) = rows("profiles", slices=[], drift=drift, overall_error=math.nan)
    assert (row["top_slice"], row["slices"], row["drift_detected"]) == ("", "[]", 1)
    full = json.loads(row["profile"])
    assert full["overall_error"] is None and full["drift"]["detectors"] == ["adwin"]
    assert math.isnan(row["overall_error"])  # the Float64 column keeps NaN


def test_synthetic_batch_is_summarised() -> None:
    sample = SAMPLES["synthetic.batches"]["rows"][0]
    three = [sample, sample | {"label_source": "teacher:credit-b"}, sample]
    (row,) = rows(
        "synthetic.batches",
        rows=SERDE.from_json("synthetic.batches", SAMPLES["synthetic.batches"] | {"rows": three})["rows"],
    )
    assert row["rows"] == 3
    assert row["label_sources"] == {"rule:credit_policy": 2, "teacher:credit-b": 1}
    assert (row["dropped"], row["acceptance_rate"], row["quality"]) == (4, 0.93, {"discriminator_auc": 0.56})
    assert row["target_slices"] == [SLICE["description"]]
    assert rows("synthetic.batches", rows=[])[0]["label_sources"] == {}


def test_model_version() -> None:
    (row,) = rows("model.versions")
    assert (row["version"], row["parent_version"], row["status"], row["ts"]) == (4, 3, "candidate", TS)
    assert row["metrics"] == {"slice_accuracy": 0.86}
    assert rows("model.versions", parent_version=None)[0]["parent_version"] is None


def test_routing_weights_one_row_per_entry() -> None:
    mapped = rows("routing.weights")
    assert [(r["instance_id"], r["version"], r["weight"], r["role"]) for r in mapped] == [
        ("credit-a", 3, 0.6, "stable"),
        ("credit-a", 4, 0.1, "canary"),
        ("credit-b", 2, 0.3, "stable"),
    ]
    assert {(r["route"], r["epoch"], r["ts"], r["reason"], r["frozen"]) for r in mapped} == {
        ("credit", 42, TS, "canary ramp", 0)
    }


def test_routing_weights_without_entries_and_tombstones_leave_a_row() -> None:
    (empty,) = rows("routing.weights", weights=[], frozen=True)
    assert (empty["instance_id"], empty["weight"], empty["epoch"], empty["frozen"]) == ("", 0.0, 42, 1)
    removed = route_removed("credit", TS)
    assert removed == {
        "route": "credit",
        "epoch": 0,
        "instance_id": "",
        "version": 0,
        "ts": TS,
        "reason": "route removed",
        "weight": 0.0,
        "role": "",
        "frozen": 0,
    }


def test_command_result_targets_and_missing_issue_time() -> None:
    targets = [{"kind": "instance", "name": "credit-a", "version": 3}, {"kind": "route", "name": "credit"}]
    (row,) = rows(
        "command.results", targets=SERDE.from_json("commands", SAMPLES["commands"] | {"targets": targets})["targets"]
    )
    assert row["targets"] == ["instance:credit-a@3", "route:credit"]
    assert (row["result"], row["reason"], row["issuer"], row["issued_ts"]) == ("rejected", "stale", "alice", TS)
    later = datetime(2026, 11, 24, 11, 0, tzinfo=UTC)
    undecodable = rows("command.results", command_id="", issued_ts=None, received_ts=later, targets=[])[0]
    assert (undecodable["issued_ts"], undecodable["targets"]) == (later, [])


def test_dead_letter_keeps_the_original_bytes() -> None:
    (row,) = rows("deadletter")
    assert (row["original_key"], row["original_value"]) == (b"req-1", b"not avro")
    assert (row["original_topic"], row["original_partition"], row["original_offset"]) == ("inference.events", 1, 17)
    assert (row["reason"], row["source"], row["ts"]) == ("undecodable", "streams.join", TS)


@pytest.mark.parametrize(
    ("topic", "changes", "field"),
    [
        ("joined.events", {"model_version": -1}, "model_version"),
        ("metrics.snapshots", {"labelled": -5}, "labelled"),
        ("profiles", {"profile_version": -1}, "profile_version"),
        ("synthetic.batches", {"dropped": -1}, "dropped"),
        ("model.versions", {"parent_version": -2}, "parent_version"),
        ("routing.weights", {"epoch": -1}, "epoch"),
    ],
)
def test_values_that_do_not_fit_unsigned_columns_are_unmappable(
    topic: str, changes: dict[str, Any], field: str
) -> None:
    with pytest.raises(MappingError, match=field) as info:
        to_rows(topic, record(topic, **changes))
    assert info.value.reason == "unmappable" and info.value.field == field


def test_nested_unsigned_values_and_unexpected_shapes_are_unmappable() -> None:
    weights = [{"instance_id": "a", "version": -3, "weight": 1.0, "role": "stable"}]
    with pytest.raises(MappingError, match=r"weights\[0\]\.version"):
        to_rows("routing.weights", record("routing.weights", weights=weights))
    broken = record("joined.events")
    del broken["label"]
    with pytest.raises(MappingError, match="KeyError: 'label'"):
        to_rows("joined.events", broken)


def test_as_json_is_strict_json() -> None:
    assert (
        as_json({"ts": TS, "b": b"\x00", "x": [math.inf, 1.5]})
        == '{"ts":"2026-11-24T10:00:00.000Z","b":"AA==","x":[null,1.5]}'
    )
