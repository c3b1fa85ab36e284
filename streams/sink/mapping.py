"""Pure mappings from decoded topic records to analytics table rows (``infra/migrations/``).

Each mapper takes a record as ``Serde.decode`` returns it and gives the rows for one
table, as dicts keyed by column name. Values are checked against the column types that
would otherwise fail a whole insert (negative or oversized integers into ``UInt*``), so a
bad record becomes a dead letter instead of blocking its batch.

>>> from schemas import Serde
>>> weights = {"route": "credit", "epoch": 7, "ts": 0, "reason": "canary ramp",
...            "weights": [{"instance_id": "credit-a", "version": 3, "weight": 1.0}]}
>>> table, rows = to_rows("routing.weights", Serde().from_json("routing.weights", weights))
>>> table, [(r["instance_id"], r["version"], r["weight"], r["role"]) for r in rows]
('routing_history', [('credit-a', 3, 1.0, 'stable')])
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

from schemas import to_json

Row = dict[str, Any]
Mapper = Callable[[dict[str, Any]], list[Row]]

ROUTE_REMOVED = "route removed"
_U32 = 2**32 - 1
_U64 = 2**64 - 1


class MappingError(ValueError):
    """A decoded record that does not fit its table; ``field`` names the culprit."""

    reason = "unmappable"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def _unsigned(value: int, field: str, high: int) -> int:
    if not 0 <= value <= high:
        msg = f"field {field!r}: {value} does not fit an unsigned column (0..{high})"
        raise MappingError(msg, field=field)
    return value


def _u32(record: dict[str, Any], field: str) -> int:
    return _unsigned(record[field], field, _U32)


def _u64(record: dict[str, Any], field: str) -> int:
    return _unsigned(record[field], field, _U64)


def _finite(value: Any) -> Any:
    """JSON-safe: non-finite floats become null (JSON has no NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def as_json(value: Any) -> str:
    """Compact JSON text of decoded Avro data: ISO-8601 timestamps, base64 bytes, null for NaN/inf.

    >>> as_json({"error": float("nan"), "n": [1, 2]})
    '{"error":null,"n":[1,2]}'
    """
    return json.dumps(_finite(to_json(value)), separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def joined_event(record: dict[str, Any]) -> list[Row]:
    """``joined.events`` -> ``joined_events``: one row per request (``ingested_at`` is the column default)."""
    return [
        {
            "request_id": record["request_id"],
            "route": record["route"],
            "instance_id": record["instance_id"],
            "model_version": _u32(record, "model_version"),
            "inference_ts": record["inference_ts"],
            "feedback_ts": record["feedback_ts"],
            "features": record["features"],
            "attributes": record["attributes"],
            "prediction": record["prediction"],
            "probabilities": record["probabilities"],
            "label": record["label"],
            "correct": int(record["correct"]),
        }
    ]


def metrics_snapshot(record: dict[str, Any]) -> list[Row]:
    """``metrics.snapshots`` -> ``metric_snapshots``: ``per_class`` split into maps, ``confusion`` as JSON."""
    per_class = record["per_class"]
    for index, item in enumerate(per_class):
        _unsigned(item["support"], f"per_class[{index}].support", _U64)
    return [
        {
            "instance_id": record["instance_id"],
            "route": record["route"],
            "model_version": _u32(record, "model_version"),
            "window": record["window"],
            "window_start": record["window_start"],
            "snapshot_ts": record["snapshot_ts"],
            "labelled": _u64(record, "labelled"),
            "unlabelled": _u64(record, "unlabelled"),
            "label_coverage": record["label_coverage"],
            "accuracy": record["accuracy"],
            "macro_precision": record["macro_precision"],
            "macro_recall": record["macro_recall"],
            "macro_f1": record["macro_f1"],
            "per_class_precision": {c["label"]: c["precision"] for c in per_class},
            "per_class_recall": {c["label"]: c["recall"] for c in per_class},
            "per_class_f1": {c["label"]: c["f1"] for c in per_class},
            "per_class_support": {c["label"]: c["support"] for c in per_class},
            "confusion": as_json(record["confusion"]),
        }
    ]


def profile(record: dict[str, Any]) -> list[Row]:
    """``profiles`` -> ``profiles``: the worst slice's description, slices and the whole profile as JSON."""
    slices = record["slices"]
    return [
        {
            "instance_id": record["instance_id"],
            "route": record["route"],
            "model_version": _u32(record, "model_version"),
            "profile_version": _u64(record, "profile_version"),
            "created_ts": record["created_ts"],
            "window": record["window"],
            "events": _u64(record, "events"),
            "overall_error": record["overall_error"],
            "overall_error_low": record["overall_error_low"],
            "overall_error_high": record["overall_error_high"],
            "top_slice": slices[0]["description"] if slices else "",
            "slices": as_json(slices),
            "shap_attribution": record["shap_attribution"],
            "drift_detected": int(record["drift"]["detected"]),
            "profile": as_json(record),
        }
    ]


def synthetic_batch(record: dict[str, Any]) -> list[Row]:
    """``synthetic.batches`` -> ``synthetic_batches``: one summary row; the rows themselves stay on Kafka."""
    return [
        {
            "batch_id": record["batch_id"],
            "instance_id": record["instance_id"],
            "route": record["route"],
            "model_version": _u32(record, "model_version"),
            "profile_version": _u64(record, "profile_version"),
            "created_ts": record["created_ts"],
            "target_slices": record["target_slices"],
            "rows": len(record["rows"]),
            "dropped": _u64(record, "dropped"),
            "acceptance_rate": record["acceptance_rate"],
            "label_sources": dict(Counter(row["label_source"] for row in record["rows"])),
            "quality": record["quality"],
        }
    ]


def model_version(record: dict[str, Any]) -> list[Row]:
    """``model.versions`` -> ``model_versions``: one row per status event."""
    parent = record["parent_version"]
    return [
        {
            "event_id": record["event_id"],
            "instance_id": record["instance_id"],
            "route": record["route"],
            "version": _u32(record, "version"),
            "parent_version": None if parent is None else _u32(record, "parent_version"),
            "status": record["status"],
            "ts": record["ts"],
            "reason": record["reason"],
            "metrics": record["metrics"],
            "weights_uri": record["weights_uri"],
        }
    ]


def routing_weights(record: dict[str, Any]) -> list[Row]:
    """``routing.weights`` -> ``routing_history``: one row per weight entry.

    A vector with no entries (a route with no live instance) still leaves one row, with
    ``instance_id`` ``''`` and weight 0, so every epoch is visible in the history.
    """
    common = {
        "route": record["route"],
        "epoch": _u64(record, "epoch"),
        "ts": record["ts"],
        "reason": record["reason"],
        "frozen": int(record["frozen"]),
    }
    if not record["weights"]:
        return [{**common, "instance_id": "", "version": 0, "weight": 0.0, "role": ""}]
    rows = []
    for index, entry in enumerate(record["weights"]):
        version = _unsigned(entry["version"], f"weights[{index}].version", _U32)
        rows.append(
            {
                **common,
                "instance_id": entry["instance_id"],
                "version": version,
                "weight": entry["weight"],
                "role": entry["role"],
            }
        )
    return rows


def route_removed(route: str, ts: datetime) -> Row:
    """The ``routing_history`` row of a tombstone (null value) on ``routing.weights``.

    A tombstone carries only its key, the route: no epoch, no reason. The row has epoch 0,
    instance ``''``, version 0, weight 0 and reason ``'route removed'``; ``ts`` is the
    tombstone's Kafka timestamp (stable across replays). Its identity
    ``(route, 0, '', 0)`` makes a replayed tombstone collapse; a route removed twice
    keeps one removal row, the latest.
    """
    return {
        "route": route,
        "epoch": 0,
        "instance_id": "",
        "version": 0,
        "ts": ts,
        "reason": ROUTE_REMOVED,
        "weight": 0.0,
        "role": "",
        "frozen": 0,
    }


def command_result(record: dict[str, Any]) -> list[Row]:
    """``command.results`` -> ``command_audit``.

    Targets become ``kind:name`` or ``kind:name@version``. ``issued_ts`` is null for a
    command that could not be decoded; the column is not nullable (and partitions the
    table), so such rows take ``received_ts`` instead.
    """
    targets = [
        f"{t['kind']}:{t['name']}" + ("" if t["version"] is None else f"@{t['version']}") for t in record["targets"]
    ]
    issued = record["issued_ts"]
    return [
        {
            "command_id": record["command_id"],
            "action": record["action"],
            "targets": targets,
            "issuer": record["issuer"],
            "issued_ts": record["received_ts"] if issued is None else issued,
            "key_id": record["key_id"],
            "received_ts": record["received_ts"],
            "result": record["result"],
            "reason": record["reason"],
            "detail": record["detail"],
        }
    ]


def dead_letter(record: dict[str, Any]) -> list[Row]:
    """``deadletter`` -> ``dead_letters``: field for field (key and value stay bytes)."""
    return [
        {
            "original_topic": record["original_topic"],
            "original_partition": record["original_partition"],
            "original_offset": record["original_offset"],
            "original_key": record["original_key"],
            "original_value": record["original_value"],
            "original_key_bytes": record["original_key_bytes"],
            "original_value_bytes": record["original_value_bytes"],
            "reason": record["reason"],
            "detail": record["detail"],
            "source": record["source"],
            "ts": record["ts"],
        }
    ]


def stage_lag(record: dict[str, Any]) -> list[Row]:
    """``stage.lag`` -> ``stage_lag``, one row per measurement."""
    row = {k: record[k] for k in ("stage", "worker", "ts", "delay_max_ms", "newest_age_ms")}
    for field in ("delay_max_ms", "newest_age_ms"):
        if row[field] is not None:
            _unsigned(row[field], field, _U64)
    return [{**row, "messages_behind": _u64(record, "messages_behind"), "processed": _u64(record, "processed")}]


TABLES: dict[str, tuple[str, Mapper]] = {
    "joined.events": ("joined_events", joined_event),
    "metrics.snapshots": ("metric_snapshots", metrics_snapshot),
    "profiles": ("profiles", profile),
    "synthetic.batches": ("synthetic_batches", synthetic_batch),
    "model.versions": ("model_versions", model_version),
    "routing.weights": ("routing_history", routing_weights),
    "command.results": ("command_audit", command_result),
    "deadletter": ("dead_letters", dead_letter),
    "stage.lag": ("stage_lag", stage_lag),
}
"""Catalog topic -> (table, mapper): every topic the sink consumes."""


def to_rows(topic: str, record: dict[str, Any]) -> tuple[str, list[Row]]:
    """The table and rows for a decoded record of catalog ``topic``; ``MappingError`` if it does not fit."""
    table, mapper = TABLES[topic]
    try:
        return table, mapper(record)
    except MappingError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        msg = f"{topic} record does not map to {table}: {type(exc).__name__}: {exc}"
        raise MappingError(msg) from exc
