"""``summary.json``: the key numbers of a report per instance, as plain JSON data."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from infra.app.report.data import ReportData
from infra.clickhouse import jsonable

FINETUNE_FIELDS = (
    "version",
    "parent_version",
    "finetuned_ts",
    "slice_rows",
    "slice_accuracy_old",
    "slice_accuracy_new",
    "slice_gain",
    "complement_rows",
    "complement_accuracy_old",
    "complement_accuracy_new",
    "complement_change",
    "negative_flip_rate",
    "latest_status",
    "history",
)
"""The ``finetune_effect`` columns kept per fine-tune in the summary."""


def build_summary(
    data: ReportData, *, title: str, context: Mapping[str, Any], generated_at: datetime
) -> dict[str, Any]:
    """The summary of ``data``: per instance its events, accuracy, versions, fine-tunes and rollbacks.

    Instances are keyed by ``instance_id``; every instance seen in events, versions or routing
    is listed (with zero events when it served none). Timestamps are ISO 8601 text and
    non-finite numbers ``null``, so the result is valid JSON as it is.
    """
    instances: dict[str, dict[str, Any]] = defaultdict(_empty_instance)
    for row in data.records("instance_summary"):
        entry = instances[row["instance_id"]]
        entry.update(
            route=row["route"],
            events=row["events"],
            correct_events=row["correct_events"],
            accuracy=row["accuracy"],
            final_accuracy=row["final_accuracy"],
            final_window_events=row["final_window_events"],
            last_served_version=row["latest_version"],
            versions_served=list(row["versions"]),
            first_event_ts=row["first_ts"],
            last_event_ts=row["last_ts"],
        )
    history: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    parents: dict[tuple[str, int], int] = {}
    for row in data.records("version_timeline"):  # in time order
        entry = instances[row["instance_id"]]
        entry["route"] = entry["route"] or row["route"]
        key = (row["instance_id"], row["version"])
        history[key].append({"ts": row["ts"], "status": row["status"], "reason": row["reason"]})
        if row["parent_version"] is not None:
            parents.setdefault(key, row["parent_version"])
        if row["status"] == "promoted":
            entry["promotions"] += 1
    for (instance, version), events in sorted(history.items()):
        instances[instance]["versions"].append(
            {
                "version": version,
                "status": events[-1]["status"],
                "parent_version": parents.get((instance, version)),
                "history": events,
            }
        )
    for row in data.records("finetune_effect"):
        entry = instances[row["instance_id"]]
        entry["route"] = entry["route"] or row["route"]
        entry["finetunes"].append({field: row[field] for field in FINETUNE_FIELDS})
    for row in data.records("rollbacks"):
        instances[row["instance_id"]]["rollbacks"] += 1
    for instance, shares in _latest_shares(data).items():
        instances[instance]["traffic_share"] = shares
    for row in data.records("weak_slices_over_time"):
        entry = instances[row["instance_id"]]
        entry["route"] = entry["route"] or row["route"]
        if row["profile_version"] >= entry["_profile_version"]:
            if row["profile_version"] > entry["_profile_version"]:
                entry["weak_slices"] = []
            entry["_profile_version"] = row["profile_version"]
            if row["slice"]:
                entry["weak_slices"].append({"slice": row["slice"], "error": row["error"], "support": row["support"]})
    for entry in instances.values():
        entry.pop("_profile_version")
    dead = Counter[str]()
    for row in data.records("dead_letters_by_reason"):
        dead[row["reason"]] += row["dead_letters"]
    commands = Counter(row["result"] for row in data.records("command_audit"))
    summary = {
        "title": title,
        "generated_at": generated_at,
        "context": dict(context),
        "events_total": sum(entry["events"] for entry in instances.values()),
        "instances": dict(sorted(instances.items())),
        "dead_letters": dict(sorted(dead.items())),
        "dead_letters_total": sum(dead.values()),
        "commands": dict(sorted(commands.items())),
        "accuracy_bucket_s": data.bucket_s,
        "queries": {
            name: {"file": f"queries/{name}.sql", "rows": len(result.rows), "parameters": result.parameters}
            for name, result in data.results.items()
        },
    }
    return dict(jsonable(summary))


def _empty_instance() -> dict[str, Any]:
    return {
        "route": "",
        "events": 0,
        "correct_events": 0,
        "accuracy": None,
        "final_accuracy": None,
        "final_window_events": 0,
        "last_served_version": None,
        "versions_served": [],
        "first_event_ts": None,
        "last_event_ts": None,
        "versions": [],
        "promotions": 0,
        "rollbacks": 0,
        "finetunes": [],
        "traffic_share": {},
        "weak_slices": [],
        "_profile_version": -1,
    }


def _latest_shares(data: ReportData) -> dict[str, dict[str, float]]:
    """Per instance, its versions' shares of traffic in the latest epoch of its route (``{"v3": 0.6}``)."""
    rows = data.records("traffic_share_history")
    latest: dict[str, tuple[Any, int]] = {}
    for row in rows:
        key = (row["ts"], row["epoch"])
        if row["route"] not in latest or key > latest[row["route"]]:
            latest[row["route"]] = key
    shares: dict[str, dict[str, float]] = defaultdict(dict)
    for row in rows:
        if row["instance_id"] and (row["ts"], row["epoch"]) == latest[row["route"]]:
            shares[row["instance_id"]][f"v{row['version']}"] = row["share"]
    return dict(shares)
