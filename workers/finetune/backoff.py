"""Backoff after rejections, derived from the registry (so it survives restarts and holds across workers).

After ``k`` consecutive versions the gate rejected for the same target (the newest
versions of the instance made for those slices), that target waits
``min(maximum, base * 2**(k-1))`` seconds from the last rejection before it is tried
again. A rejection for one slice does not hold back a batch for another one (a
different weakness, e.g. after a drift), and a candidate the gate passed ends the run
of rejections whatever happened to it later.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from infra.registry.versions import VersionInfo


@dataclass(frozen=True)
class Backoff:
    """
    >>> from datetime import UTC
    >>> from infra.registry.versions import StatusChange
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> def v(n, status):
    ...     return VersionInfo("a", n, None, t, "", {}, "", "f", (StatusChange(status, t),))
    >>> Backoff(60, 3600).until([v(1, "promoted"), v(2, "rejected"), v(3, "rejected")]) - t
    datetime.timedelta(seconds=120)
    >>> Backoff(60, 3600).until([v(1, "promoted")]) is None
    True
    >>> aimed = VersionInfo("a", 4, 1, t, "", {}, "", "f", (StatusChange("rejected", t),),
    ...                     extra={"target_slices": [{"description": "age < 30"}]})
    >>> Backoff(60, 3600).until([aimed], ["age < 30"]) - t, Backoff(60, 3600).until([aimed], ["age >= 60"])
    (datetime.timedelta(seconds=60), None)
    """

    base_seconds: float
    max_seconds: float

    def until(self, versions: Sequence[VersionInfo], target: Sequence[str] | None = None) -> datetime | None:
        """When ``target`` (slice descriptions; ``None``: any) may be fine-tuned again; ``None`` if not backing off."""
        rejected, last = 0, None
        for info in sorted(versions, key=lambda v: v.version, reverse=True):
            if target is not None and _targets(info) != set(target):
                continue
            verdict = info.history[0]  # the gate's; later changes (canary, rollback) are the router's
            if verdict.status != "rejected":
                break
            rejected += 1
            last = verdict.ts if last is None else max(last, verdict.ts)
        if last is None:
            return None
        wait = min(self.max_seconds, self.base_seconds * 2 ** (rejected - 1))
        return last + timedelta(seconds=wait)


def _targets(info: VersionInfo) -> set[str]:
    return {s.get("description", "") for s in info.extra.get("target_slices") or []}
