"""The report's figures, drawn with matplotlib's non-interactive Agg canvas (no pyplot, no display).

Each function takes query records and returns a figure; ``save`` writes it as PNG. With
nothing to draw, a figure is an empty plot that says "no data" (``NO_DATA``).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, date2num
from matplotlib.figure import Figure

Record = dict[str, Any]

MARKED = {
    "promoted": ("tab:green", "-", "promoted"),
    "rolled_back": ("tab:red", "--", "rolled back"),
}
"""Version statuses marked as vertical lines: colour, line style, legend label."""

NO_DATA = "no data"
"""The text of a figure with nothing to draw."""

_DPI = 110


def accuracy_over_time(rows: Sequence[Record], versions: Sequence[Record], *, bucket_s: int) -> Figure:
    """Accuracy per instance per time bucket (``accuracy_over_time`` rows), promotions and rollbacks marked."""
    figure, ax = _figure(width=10, height=4.5)
    ax.set_title(f"Accuracy per instance ({bucket_s} s buckets)")
    if not rows:
        return _no_data(figure, ax)
    series: dict[str, list[Record]] = defaultdict(list)
    for row in rows:
        series[_instance_label(row)].append(row)
    for label, points in sorted(series.items()):
        points.sort(key=lambda r: r["bucket"])
        xs, ys = _break_gaps([r["bucket"] for r in points], [r["accuracy"] for r in points], bucket_s)
        ax.plot(
            date2num(xs),
            ys,
            marker="o" if len(points) < 40 else None,
            markersize=3,
            linewidth=1.5,
            label=label,
        )
    _mark_versions(ax, versions)
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("accuracy")
    _time_axis(ax)
    ax.legend(loc="lower left", fontsize="small", ncols=2)
    return figure


def traffic_share(rows: Sequence[Record], versions: Sequence[Record], *, end: datetime | None = None) -> Figure:
    """Traffic share per instance version over time, stacked, one panel per route; changes marked.

    Each epoch's weights hold until the next epoch, the last ones until ``end`` (e.g. the
    last event) or the last epoch of any route, whichever is later.
    """
    live = [r for r in rows if r["instance_id"]]  # '' marks a route left with no instance
    routes = sorted({r["route"] for r in rows})
    if not routes:
        figure, ax = _figure(width=10, height=4.5)
        ax.set_title("Traffic share")
        return _no_data(figure, ax)
    figure = Figure(figsize=(10, 3.2 * len(routes) + 0.8), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(len(routes), 1, sharex=True, squeeze=False)[:, 0]
    end = max([r["ts"] for r in rows] + ([end] if end is not None else []))
    for ax, route in zip(axes, routes, strict=True):
        epochs = sorted({(r["ts"], r["epoch"]) for r in rows if r["route"] == route})
        keys = sorted({(r["instance_id"], r["version"]) for r in live if r["route"] == route})
        share = {(r["ts"], r["epoch"], r["instance_id"], r["version"]): r["share"] for r in live if r["route"] == route}
        times = [ts for ts, _ in epochs]
        stacks = [[share.get((ts, epoch, *key), 0.0) for ts, epoch in epochs] for key in keys]
        last = max(end, times[-1] + timedelta(seconds=1))  # hold the last weights to the end of the plot
        times.append(last)
        stacks = [stack + stack[-1:] for stack in stacks]
        if keys:
            ax.stackplot(times, stacks, labels=[f"{i} v{v}" for i, v in keys], step="post", alpha=0.85)
        _mark_versions(ax, [v for v in versions if v["route"] == route])
        ax.set_title(f"Traffic share, route {route}")
        ax.set_ylim(0, 1.02)
        ax.set_ylabel("share")
        ax.legend(loc="upper left", fontsize="small", ncols=3)
    _time_axis(axes[-1])
    return figure


def finetune_effect(rows: Sequence[Record]) -> Figure:
    """Slice and complement accuracy before and after each fine-tune (``finetune_effect`` rows), as bars."""
    width = max(8.0, 1.3 * len(rows) + 2)
    figure, ax = _figure(width=width, height=4.5)
    ax.set_title("Fine-tunes: held-out accuracy of the old and the new version")
    if not rows:
        return _no_data(figure, ax)
    bars = (
        ("slice_accuracy_old", "slice, old", "tab:orange", 0.45),
        ("slice_accuracy_new", "slice, new", "tab:orange", 1.0),
        ("complement_accuracy_old", "complement, old", "tab:blue", 0.45),
        ("complement_accuracy_new", "complement, new", "tab:blue", 1.0),
    )
    step = 0.2
    for offset, (column, label, colour, alpha) in enumerate(bars):
        xs = [i + (offset - 1.5) * step for i in range(len(rows))]
        ax.bar(xs, [r[column] for r in rows], width=step, color=colour, alpha=alpha, label=label)
    ax.set_xticks(
        range(len(rows)),
        [f"{r['instance_id']} v{r['version']}\n{r['latest_status']}" for r in rows],
        fontsize="small",
    )
    ax.set_ylim(0, 1.1)
    ax.set_ylabel("accuracy")
    ax.legend(loc="upper left", fontsize="small", ncols=4)
    return figure


def _figure(*, width: float, height: float) -> tuple[Figure, Axes]:
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure, figure.add_subplot()


def save(figure: Figure, path: Path) -> Path:
    """Write ``figure`` to ``path`` as PNG."""
    figure.savefig(path, format="png", dpi=_DPI)
    return path


def _no_data(figure: Figure, ax: Axes) -> Figure:
    ax.text(0.5, 0.5, NO_DATA, ha="center", va="center", fontsize="x-large", color="grey", transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])
    return figure


def _instance_label(row: Record) -> str:
    return f"{row['route']}/{row['instance_id']}"


def _break_gaps(xs: list[datetime], ys: list[float], bucket_s: int) -> tuple[list[datetime], list[float]]:
    """``xs, ys`` with a NaN point wherever buckets are missing, so the line breaks instead of bridging."""
    out_x: list[datetime] = []
    out_y: list[float] = []
    for x, y in zip(xs, ys, strict=True):
        if out_x and (x - out_x[-1]).total_seconds() > bucket_s:
            out_x.append(out_x[-1] + timedelta(seconds=bucket_s))
            out_y.append(math.nan)
        out_x.append(x)
        out_y.append(y)
    return out_x, out_y


def _mark_versions(ax: Axes, versions: Sequence[Record]) -> None:
    """A vertical line per promotion and rollback; one label per moment, naming every version changed."""
    labelled: set[str] = set()
    notes: dict[float, list[tuple[str, str]]] = defaultdict(list)
    for event in versions:
        style = MARKED.get(event["status"])
        if style is None:
            continue
        colour, line, label = style
        ts = float(date2num(event["ts"]))
        ax.axvline(ts, color=colour, linestyle=line, linewidth=1, label=None if label in labelled else label)
        labelled.add(label)
        notes[ts].append((f"{event['instance_id']} v{event['version']} {label}", colour))
    for ts, texts in notes.items():
        ax.text(
            ts,
            0.98,
            " " + "; ".join(text for text, _ in texts),
            transform=ax.get_xaxis_transform(),
            rotation=90,
            va="top",
            ha="right",
            fontsize="x-small",
            color=texts[0][1],
        )


def _time_axis(ax: Axes) -> None:
    locator = AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    ax.set_xlabel("time (UTC)")
