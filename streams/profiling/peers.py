"""Peer comparison: is a slice this instance's weakness, or hard for every instance of the route?

For each slice found for an instance, the same predicate is evaluated on the pooled windows of
the route's other instances (its peers):

- **weakness**: the instance errs there significantly more than its peers (one-sided Fisher
  exact test, Benjamini-Hochberg at ``fdr`` across the instance's reported slices) *and* by a
  margin the data are sure of: the instance's Wilson interval lies above the peers'. A slice
  hard for everyone must not turn into a weakness on a lucky draw of the peers' window;
- **hard for all**: not a weakness, the peers have at least ``min_support`` events there, and the
  peers themselves err there significantly more than they do overall (exact binomial test at
  ``level``) — a hard region of the input space, reported with ``hard_for_all = True``;
- otherwise (too few peer events there, or peers better but not significantly): neither flag.

Slices are ranked weaknesses first, then the undecided, then those hard for all, each group by
SliceLine score.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from streams.profiling.slices import FoundSlice
from streams.profiling.stats import bh_cutoff, binom_greater, fisher_greater, wilson
from streams.profiling.window import Frame


@dataclass(frozen=True)
class PeerConfig:
    min_support: int = 20  # peer events needed on a slice to judge it
    fdr: float = 0.01  # BH level of "worse than peers" across an instance's slices
    level: float = 0.01  # level of "peers err there more than overall"


@dataclass(frozen=True)
class RankedSlice:
    """A found slice with its peers' error on the same predicate."""

    found: FoundSlice
    peer_support: int
    peer_errors: int
    peer_error: float | None
    weakness: bool
    hard_for_all: bool

    def to_record(self) -> dict[str, Any]:
        """The ``Slice`` record of ``profiles`` / ``profile.changes``."""
        f = self.found
        return {
            "predicate": f.predicate.to_predicate(),
            "description": f.predicate.describe(),
            "support": f.support,
            "error": f.error,
            "error_low": f.error_low,
            "error_high": f.error_high,
            "lift": f.lift,
            "peer_error": self.peer_error,
            "hard_for_all": self.hard_for_all,
        }


def compare_with_peers(
    found: list[FoundSlice], peers: Frame | None, config: PeerConfig | None = None
) -> list[RankedSlice]:
    """Peer errors and flags for ``found``, ranked weaknesses first.

    >>> from schemas.slices import Condition, Slice
    >>> s = FoundSlice(Slice((Condition("x", low=5.0),)), 100, 60, 0.6, 0.5, 0.7, 3.0, 2.0, 1e-9)
    >>> x = np.arange(200, dtype=float) / 20
    >>> peers = Frame({"x": x}, {}, x.astype(object), x.astype(object), x < 5, np.zeros(200, dtype=np.int64))
    >>> r = compare_with_peers([s], peers)[0]
    >>> r.peer_error, r.weakness, r.hard_for_all
    (1.0, False, True)
    """
    cfg = config or PeerConfig()
    if peers is None or len(peers) == 0:
        return [RankedSlice(f, 0, 0, None, False, False) for f in sorted(found, key=lambda f: -f.score)]
    errors = peers.errors
    peer_rate = float(errors.mean())
    counts = []
    for f in found:
        inside = f.predicate.mask(peers)
        counts.append((int(inside.sum()), int(errors[inside].sum())))
    worse_p = np.array(
        [
            fisher_greater(f.errors, f.support, k, n) if n >= cfg.min_support else 1.0
            for f, (n, k) in zip(found, counts, strict=True)
        ]
    )
    cutoff = bh_cutoff(worse_p, cfg.fdr)
    ranked = []
    for f, (n, k), p in zip(found, counts, worse_p, strict=True):
        _, peer_high = wilson(k, n)
        weakness = bool(n >= cfg.min_support and p <= cutoff and f.error_low > float(peer_high))
        hard = bool(not weakness and n >= cfg.min_support and float(binom_greater(k, n, peer_rate)) <= cfg.level)
        ranked.append(RankedSlice(f, n, k, k / n if n else None, weakness, hard))
    return sorted(ranked, key=lambda r: (0 if r.weakness else 2 if r.hard_for_all else 1, -r.found.score))
