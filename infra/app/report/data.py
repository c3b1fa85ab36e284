"""The data of a report: the named queries it runs, with parameters shared between them."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from clickhouse_connect.driver.client import Client

from infra.queries import NamedQuery, QueryParameterError, QueryResult, get_query, run_named

REPORT_QUERIES = (
    "instance_summary",
    "accuracy_over_time",
    "traffic_share_history",
    "version_timeline",
    "finetune_effect",
    "rollbacks",
    "weak_slices_over_time",
    "command_audit",
    "dead_letters_by_reason",
    "stage_lag",
)
"""The named queries behind a report, in the order the page shows them."""

_NICE_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)


@dataclass(frozen=True)
class ReportData:
    """The result of every report query, by name."""

    results: dict[str, QueryResult]

    def records(self, name: str) -> list[dict[str, Any]]:
        return self.results[name].records()

    @property
    def bucket_s(self) -> int:
        """The width of the accuracy-over-time buckets, in seconds."""
        return int(self.results["accuracy_over_time"].parameters["bucket_s"])


def choose_bucket(span_s: float, target: int = 60) -> int:
    """A round bucket width (seconds) that cuts ``span_s`` into at most about ``target`` buckets.

    >>> choose_bucket(0), choose_bucket(300), choose_bucket(3 * 3600), choose_bucket(400 * 86400)
    (1, 5, 300, 604800)
    """
    wanted = span_s / max(target, 1)
    for step in _NICE_STEPS:
        if step >= wanted:
            return step
    return 86400 * math.ceil(wanted / 86400)


def fetch(client: Client, params: Mapping[str, Any] | None = None) -> ReportData:
    """Run every report query. ``params`` go to each query that declares them.

    A name no report query declares is an error (a typo would otherwise pass silently).
    Without ``bucket_s``, the bucket width is chosen from the time span of the joined events.
    """
    params = dict(params or {})
    queries = [get_query(name) for name in REPORT_QUERIES]
    declared = {p.name for query in queries for p in query.params}
    unused = sorted(set(params) - declared)
    if unused:
        msg = f"report parameter(s) {', '.join(unused)} are declared by no report query; known: {sorted(declared)}"
        raise QueryParameterError(msg)
    results: dict[str, QueryResult] = {}
    for query in queries:
        own = _own(query, params)
        if query.name == "accuracy_over_time" and "bucket_s" not in own:
            own["bucket_s"] = choose_bucket(_span_s(results["instance_summary"]))
        results[query.name] = run_named(client, query, own)
    return ReportData(results)


def _own(query: NamedQuery, params: Mapping[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in params.items() if query.param(name) is not None}


def _span_s(summary: QueryResult) -> float:
    records = summary.records()
    if not records:
        return 0.0
    first = min(r["first_ts"] for r in records)
    last = max(r["last_ts"] for r in records)
    return float((last - first).total_seconds())
