"""``index.html``: one self-contained page (inline style, figures by relative path, every value escaped)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from html import escape
from typing import Any

from infra.app.report.data import ReportData

ROW_LIMIT = 200
"""Rows shown per table; the rest are counted in a note (the query gives them all)."""

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; padding: 0 1em; }
h1 { margin-bottom: 0.2em; } h2 { margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.85em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.5em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.5em 0; }
pre { background: #f7f7f7; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
.note { color: #666; font-size: 0.85em; }
"""

_SECTIONS = (
    ("finetune_effect", "Fine-tunes", None),
    ("version_timeline", "Promotions, rejections and rollbacks", ("promoted", "rejected", "rolled_back")),
    ("rollbacks", "Rollbacks", None),
    ("weak_slices_over_time", "Weak slices over time", None),
    ("dead_letters_by_reason", "Dead letters by reason", None),
    ("stage_lag", "How far behind each stage was", None),
    ("command_audit", "Operator commands", None),
)


def render_page(
    data: ReportData,
    summary: Mapping[str, Any],
    figures: Mapping[str, str],
    *,
    title: str,
    context: Mapping[str, Any],
    generated_at: datetime,
) -> str:
    """The HTML of the report. ``figures`` maps a caption to a PNG path relative to the page."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="note">generated {escape(_text(generated_at))} by insitu</p>',
    ]
    if context:
        parts += ["<h2>Context</h2>", table([{"key": k, "value": v} for k, v in context.items()])]
    parts += ["<h2>Instances</h2>", table(_instance_rows(summary)), _totals(summary)]
    parts.append("<h2>Figures</h2>")
    for caption, src in figures.items():
        parts.append(f'<figure><img src="{escape(src)}" alt="{escape(caption)}"><figcaption>{escape(caption)}')
        parts.append("</figcaption></figure>")
    for name, heading, statuses in _SECTIONS:
        rows = data.records(name)
        if statuses is not None:
            rows = [r for r in rows if r["status"] in statuses]
        parts += [f'<h2 id="{name}">{escape(heading)}</h2>', table(rows), _source(name)]
    parts.append("<h2>Queries</h2>")
    for name, result in data.results.items():
        params = ", ".join(f"{k}={_text(v)}" for k, v in result.parameters.items())
        parts += [
            f'<h3 id="query-{name}">{escape(name)}</h3>',
            f"<p>{escape(result.query.description)} <span class='note'>{len(result.rows)} row(s); "
            f'parameters: {escape(params) or "none"}; <a href="queries/{escape(name)}.sql">{escape(name)}.sql</a>'
            "</span></p>",
            f"<pre>{escape(result.query.sql)}</pre>",
        ]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def table(rows: Sequence[Mapping[str, Any]], limit: int = ROW_LIMIT) -> str:
    """An HTML table of ``rows`` (the first row's keys are the columns); numbers right-aligned.

    >>> table([{"a": 1, "b": "<x>"}])
    '<table><tr><th>a</th><th>b</th></tr><tr><td class="num">1</td><td>&lt;x&gt;</td></tr></table>'
    >>> table([])
    '<p class="note">no rows</p>'
    """
    if not rows:
        return '<p class="note">no rows</p>'
    columns = list(rows[0])
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = []
    for row in rows[:limit]:
        cells = "".join(_cell(row.get(c)) for c in columns)
        body.append(f"<tr>{cells}</tr>")
    more = f'<p class="note">{len(rows) - limit} more row(s) not shown</p>' if len(rows) > limit else ""
    return f"<table><tr>{head}</tr>{''.join(body)}</table>{more}"


def _cell(value: Any) -> str:
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    return f'<td class="num">{escape(_text(value))}</td>' if numeric else f"<td>{escape(_text(value))}</td>"


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="milliseconds")
    if isinstance(value, list | tuple):
        return ", ".join(_text(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_text(v)}" for k, v in value.items())
    return str(value)


def _instance_rows(summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "instance": name,
            "route": entry["route"],
            "events": entry["events"],
            "accuracy": entry["accuracy"],
            "final accuracy": entry["final_accuracy"],
            "last served version": entry["last_served_version"],
            "versions": ", ".join(f"v{v['version']} {v['status']}" for v in entry["versions"]),
            "fine-tunes": len(entry["finetunes"]),
            "promotions": entry["promotions"],
            "rollbacks": entry["rollbacks"],
            "traffic share": entry["traffic_share"],
        }
        for name, entry in summary["instances"].items()
    ]


def _totals(summary: Mapping[str, Any]) -> str:
    dead = summary["dead_letters_total"]
    commands = ", ".join(f"{count} {result}" for result, count in summary["commands"].items()) or "none"
    return (
        f'<p class="note">{summary["events_total"]} labelled event(s); {dead} dead letter(s); '
        f"commands: {escape(commands)}</p>"
    )


def _source(name: str) -> str:
    return f'<p class="note">from <a href="#query-{name}">{name}</a></p>'
