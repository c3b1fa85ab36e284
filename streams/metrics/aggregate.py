"""Additive metric state of one instance version: confusion counts in 15-second buckets.

The durable record is one small table entry per counted request (so a replayed or duplicated
event for the same request is counted once, and each write is atomic). This module keeps the
derived, in-memory sums: a bucket per 15 seconds of prediction time for the last hour, and an
*archive* that absorbs whole buckets as they age out, so the ``version`` window still covers
everything since the version was first seen.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

BUCKET_MS = 15_000
WINDOWS_MS: dict[str, int | None] = {"1m": 60_000, "15m": 900_000, "1h": 3_600_000, "version": None}
RETAIN_MS = 3_600_000 + 2 * BUCKET_MS


def bucket_of(ts_ms: int) -> int:
    return ts_ms - ts_ms % BUCKET_MS


@dataclass
class Counts:
    """Confusion counts plus predictions whose label never came."""

    cm: Counter[tuple[str, str]] = field(default_factory=Counter)
    unlabelled: int = 0

    def add(self, label: str | None, prediction: str) -> None:
        if label is None:
            self.unlabelled += 1
        else:
            self.cm[(label, prediction)] += 1

    def merge(self, other: Counts) -> None:
        self.cm.update(other.cm)
        self.unlabelled += other.unlabelled

    def to_json(self) -> dict[str, Any]:
        return {"cm": [[t, p, n] for (t, p), n in sorted(self.cm.items())], "unlabelled": self.unlabelled}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Counts:
        return cls(Counter({(t, p): n for t, p, n in raw["cm"]}), raw["unlabelled"])


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


@dataclass
class VersionAggregate:
    """Sums for one instance version.

    >>> agg = VersionAggregate(route="r", first_ts=0)
    >>> agg.add(0, "a", "a"); agg.add(20_000, "a", "b"); agg.add(20_000, None, "a")
    >>> [(w.window, w.labelled, w.unlabelled) for w in agg.windows(now_ms=30_000)]
    [('1m', 2, 1), ('15m', 2, 1), ('1h', 2, 1), ('version', 2, 1)]
    """

    route: str
    first_ts: int
    buckets: dict[int, Counts] = field(default_factory=dict)
    archive: Counts = field(default_factory=Counts)
    archived_through: int = -1

    def add(self, bucket: int, label: str | None, prediction: str) -> None:
        """Count one prediction; buckets already archived count in the archive only."""
        self.first_ts = min(self.first_ts, bucket)
        if bucket <= self.archived_through:
            return
        self.buckets.setdefault(bucket, Counts()).add(label, prediction)

    def expired(self, now_ms: int) -> list[int]:
        """Buckets old enough to fold into the archive, oldest first."""
        cutoff = bucket_of(now_ms - RETAIN_MS)
        return sorted(b for b in self.buckets if b < cutoff)

    def fold(self, bucket: int) -> None:
        counts = self.buckets.pop(bucket, None)
        if counts is not None:
            self.archive.merge(counts)
        self.archived_through = max(self.archived_through, bucket)

    def windows(self, now_ms: int) -> list[WindowCounts]:
        out = []
        for name, size in WINDOWS_MS.items():
            total = Counts()
            if size is None:
                start = self.first_ts
                total.merge(self.archive)
                chosen = list(self.buckets.values())
            else:
                start = bucket_of(now_ms - size) + BUCKET_MS
                chosen = [c for b, c in self.buckets.items() if b >= start]
            for counts in chosen:
                total.merge(counts)
            if total.cm or total.unlabelled:
                out.append(WindowCounts(name, start, dict(total.cm), total.unlabelled))
        return out
