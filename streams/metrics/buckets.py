"""Additive metric state: confusion counts per instance, version and time bucket.

State is kept in small table entries, one per (instance, version, bucket), so that each
event rewrites a few bytes instead of a whole matrix. Buckets are 15 seconds of
prediction time; named windows sum the buckets they cover, and ``version`` sums a
running total since the version was first seen.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

BUCKET_MS = 15_000
WINDOWS_MS: dict[str, int | None] = {"1m": 60_000, "15m": 900_000, "1h": 3_600_000, "version": None}
RETAIN_MS = 3_600_000 + 2 * BUCKET_MS
TOTAL = "total"
SEP = "\x1f"


def bucket_of(ts_ms: int) -> int:
    return ts_ms - ts_ms % BUCKET_MS


def entry_key(instance_id: str, version: int, bucket: int | str) -> str:
    """Table key of one bucket (or of the running ``total``) of an instance version."""
    return f"{instance_id}{SEP}{version}{SEP}{bucket}"


def parse_key(key: str) -> tuple[str, int, str]:
    instance_id, version, bucket = key.split(SEP)
    return instance_id, int(version), bucket


def new_entry(route: str, first_ts: int) -> dict[str, Any]:
    return {"route": route, "first_ts": first_ts, "cm": {}, "unlabelled": 0}


def add_joined(entry: dict[str, Any], label: str, prediction: str) -> dict[str, Any]:
    cell = f"{label}{SEP}{prediction}"
    entry["cm"][cell] = entry["cm"].get(cell, 0) + 1
    return entry


def add_unlabelled(entry: dict[str, Any]) -> dict[str, Any]:
    entry["unlabelled"] += 1
    return entry


@dataclass(frozen=True)
class WindowCounts:
    window: str
    start_ms: int
    counts: dict[tuple[str, str], int]
    unlabelled: int

    @property
    def labelled(self) -> int:
        return sum(self.counts.values())

    @property
    def coverage(self) -> float:
        seen = self.labelled + self.unlabelled
        return self.labelled / seen if seen else 0.0


def windows(entries: Mapping[str, dict[str, Any]], now_ms: int) -> list[WindowCounts]:
    """Sum one instance version's entries (``bucket -> entry``, plus ``total``) into the named windows."""
    out = []
    for name, size in WINDOWS_MS.items():
        if size is None:
            chosen: Iterable[dict[str, Any]] = [entries[TOTAL]] if TOTAL in entries else []
            start = entries[TOTAL]["first_ts"] if TOTAL in entries else now_ms
        else:
            start = bucket_of(now_ms - size) + BUCKET_MS
            chosen = [e for b, e in entries.items() if b != TOTAL and int(b) >= start]
        counts: dict[tuple[str, str], int] = {}
        unlabelled = 0
        for entry in chosen:
            unlabelled += entry["unlabelled"]
            for cell, n in entry["cm"].items():
                label, prediction = cell.split(SEP)
                counts[(label, prediction)] = counts.get((label, prediction), 0) + n
        if counts or unlabelled:
            out.append(WindowCounts(name, start, counts, unlabelled))
    return out
