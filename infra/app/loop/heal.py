"""Time to heal: from when a weakness starts to when an improved version serves most of its instance's traffic.

>>> history = [(10.0, {"a": {1: 0.3}, "b": {1: 0.7}}), (50.0, {"a": {1: 0.1, 2: 0.05}, "b": {1: 0.85}}),
...            (80.0, {"a": {2: 0.4}, "b": {1: 0.6}})]
>>> heal_time(history, "a", started=0.0)
80.0
>>> heal_time(history, "b", started=0.0) is None
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

Shares = Mapping[str, Mapping[int, float]]
"""instance -> version -> share of the route's traffic."""


def version_at(history: Sequence[tuple[float, Shares]], instance: str, when: float) -> int:
    """The newest version of ``instance`` serving at ``when`` (1 before any vector names it)."""
    current = 1
    for ts, shares in history:
        if ts > when:
            break
        if shares.get(instance):
            current = max(shares[instance])
    return current


def heal_time(history: Sequence[tuple[float, Shares]], instance: str, started: float) -> float | None:
    """Seconds after ``started`` at which versions newer than the one then serving carry > half of
    the instance's traffic; ``None`` if that never happened."""
    baseline = version_at(history, instance, started)
    for ts, shares in history:
        if ts < started or instance not in shares:
            continue
        versions = shares[instance]
        total = sum(versions.values())
        newer = sum(w for v, w in versions.items() if v > baseline)
        if total > 0 and newer / total > 0.5:
            return ts - started
    return None
