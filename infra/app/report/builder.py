"""``build_report``: run the report queries, draw the figures, write the page, the summary and the SQL."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from clickhouse_connect.driver.client import Client

from infra.app.report import figures
from infra.app.report.data import ReportData, fetch
from infra.app.report.page import render_page
from infra.app.report.summary import build_summary

FIGURES = {
    "accuracy": "accuracy_over_time.png",
    "traffic": "traffic_share.png",
    "finetunes": "finetune_effect.png",
}
"""The figure files of a report, by what they show."""


def build_report(
    client: Client,
    out_dir: Path,
    *,
    title: str,
    context: dict[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
) -> Path:
    """Write a report of the analytics store behind ``client`` into ``out_dir``; return its ``index.html``.

    ``out_dir`` (created if needed) receives ``index.html``, a PNG per figure, ``summary.json``
    (per instance: events, final accuracy, versions and statuses, fine-tune effects, rollbacks;
    dead letters by reason; ``context`` as given) and ``queries/NAME.sql``, the exact SQL of
    every query used. ``params`` (e.g. ``{"route": "credit", "bucket_s": 10}``) go to every
    report query that declares them; without ``bucket_s`` it is chosen from the events' time
    span. Files of an earlier report in ``out_dir`` are overwritten.
    """
    context = dict(context or {})
    generated_at = datetime.now(UTC)
    data = fetch(client, params)
    out_dir.mkdir(parents=True, exist_ok=True)
    queries_dir = out_dir / "queries"
    queries_dir.mkdir(exist_ok=True)
    for name, result in data.results.items():
        (queries_dir / f"{name}.sql").write_text(result.query.sql, encoding="utf-8")
    drawn = _draw(data, out_dir)
    summary = build_summary(data, title=title, context=context, generated_at=generated_at)
    summary["figures"] = dict(FIGURES)
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    page = render_page(data, summary, drawn, title=title, context=context, generated_at=generated_at)
    index = out_dir / "index.html"
    index.write_text(page, encoding="utf-8")
    return index


def _draw(data: ReportData, out_dir: Path) -> dict[str, str]:
    """Draw every figure; return caption -> file name (relative to ``out_dir``)."""
    versions = data.records("version_timeline")
    drawn = {
        "accuracy": figures.accuracy_over_time(data.records("accuracy_over_time"), versions, bucket_s=data.bucket_s),
        "traffic": figures.traffic_share(data.records("traffic_share_history"), versions, end=_last_event(data)),
        "finetunes": figures.finetune_effect(data.records("finetune_effect")),
    }
    for key, figure in drawn.items():
        figures.save(figure, out_dir / FIGURES[key])
    return {
        "Accuracy per instance over time; promotions (solid) and rollbacks (dashed) marked": FIGURES["accuracy"],
        "Traffic share per instance version over time, per route": FIGURES["traffic"],
        "Slice and complement accuracy before and after each fine-tune": FIGURES["finetunes"],
    }


def _last_event(data: ReportData) -> datetime | None:
    return max((row["last_ts"] for row in data.records("instance_summary")), default=None)
