"""Backoff after rejections, derived from the registry (so it survives restarts and holds across workers).

After ``k`` consecutive rejected versions (the newest versions of the instance), the
instance waits ``min(maximum, base * 2**(k-1))`` seconds from the last rejection before
it is fine-tuned again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from workers.registry.versions import VersionInfo


@dataclass(frozen=True)
class Backoff:
    """
    >>> from datetime import UTC
    >>> from workers.registry.versions import StatusChange
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> def v(n, status):
    ...     return VersionInfo("a", n, None, t, "", {}, "", "f", (StatusChange(status, t),))
    >>> Backoff(60, 3600).until([v(1, "promoted"), v(2, "rejected"), v(3, "rejected")]) - t
    datetime.timedelta(seconds=120)
    >>> Backoff(60, 3600).until([v(1, "promoted")]) is None
    True
    """

    base_seconds: float
    max_seconds: float

    def until(self, versions: Sequence[VersionInfo]) -> datetime | None:
        """When the instance may be fine-tuned again; ``None`` if it is not backing off."""
        rejected = 0
        for info in sorted(versions, key=lambda v: v.version, reverse=True):
            if info.status != "rejected":
                break
            rejected += 1
        if rejected == 0:
            return None
        last = max(v.history[-1].ts for v in versions if v.status == "rejected")
        wait = min(self.max_seconds, self.base_seconds * 2 ** (rejected - 1))
        return last + timedelta(seconds=wait)
