"""The groups of agents of the streams worker; importing a group's module registers its agents with the app."""

from __future__ import annotations

from collections.abc import Callable, Iterable


def _join() -> None:
    import streams.join.agent  # noqa: F401


def _metrics() -> None:
    import streams.metrics.agent  # noqa: F401


def _profiling() -> None:
    import streams.profiling.agent  # noqa: F401


def _router() -> None:
    import streams.router.agent  # noqa: F401


GROUPS: dict[str, Callable[[], None]] = {"join": _join, "metrics": _metrics, "profiling": _profiling, "router": _router}
"""Group name -> what registers its agents."""


def register(groups: Iterable[str] = GROUPS) -> None:
    """Register the agents of ``groups`` (every group by default) with ``streams.app.app``."""
    for group in groups:
        GROUPS[group]()
