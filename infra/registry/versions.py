"""Version metadata: why a version exists, what it measured, and its status history.

Statuses: ``candidate`` (made by fine-tuning, waiting for the router's canary),
``promoted`` (serving; the instance's current version is its newest promoted one),
``rejected`` (failed the gate or the canary) and ``rolled_back`` (was promoted, then
withdrawn: the promoted version before it serves again).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal, cast

Status = Literal["candidate", "promoted", "rejected", "rolled_back"]
STATUSES: tuple[Status, ...] = ("candidate", "promoted", "rejected", "rolled_back")

TRANSITIONS: Mapping[Status, frozenset[Status]] = {
    "candidate": frozenset({"promoted", "rejected", "rolled_back"}),
    "promoted": frozenset({"rolled_back"}),
    "rolled_back": frozenset({"promoted"}),
    "rejected": frozenset(),
}
"""Allowed status changes (a rolled-back version may be promoted again by an operator)."""


class StatusError(ValueError):
    """A status change that is not allowed."""


@dataclass(frozen=True)
class StatusChange:
    status: Status
    ts: datetime
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "ts": self.ts.isoformat(), "reason": self.reason}


@dataclass(frozen=True)
class VersionInfo:
    """The metadata of one version of one instance (``meta.json`` next to its weights).

    >>> from datetime import UTC
    >>> info = VersionInfo("credit-a", 2, parent=1, created=datetime(2026, 1, 1, tzinfo=UTC), reason="fine-tune",
    ...                    metrics={"slice_gain": 0.1}, weights_sha256="ab", family="mlp",
    ...                    history=(StatusChange("candidate", datetime(2026, 1, 1, tzinfo=UTC)),))
    >>> info.status, info.with_status("promoted", datetime(2026, 1, 2, tzinfo=UTC)).status
    ('candidate', 'promoted')
    >>> VersionInfo.from_json(info.to_json()) == info
    True
    """

    instance_id: str
    version: int
    parent: int | None
    created: datetime
    reason: str
    metrics: Mapping[str, float]
    weights_sha256: str
    family: str
    history: tuple[StatusChange, ...]
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> Status:
        return self.history[-1].status

    def with_status(self, status: Status, ts: datetime, reason: str = "") -> VersionInfo:
        """A copy with ``status`` appended to the history, if the transition is allowed."""
        if status not in STATUSES:
            msg = f"{self.instance_id} v{self.version}: unknown status {status!r}; statuses are {list(STATUSES)}"
            raise StatusError(msg)
        if status not in TRANSITIONS[self.status]:
            msg = f"{self.instance_id} v{self.version}: cannot go from {self.status} to {status}"
            raise StatusError(msg)
        if ts.tzinfo is None:
            msg = "status timestamps must be timezone-aware"
            raise ValueError(msg)
        return replace(self, history=(*self.history, StatusChange(status, ts, reason)))

    def to_json(self) -> dict[str, Any]:
        return {
            "instance_id": self.instance_id,
            "version": self.version,
            "parent": self.parent,
            "created": self.created.isoformat(),
            "reason": self.reason,
            "metrics": dict(self.metrics),
            "weights_sha256": self.weights_sha256,
            "family": self.family,
            "status": self.status,
            "history": [change.to_json() for change in self.history],
            "extra": dict(self.extra),
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> VersionInfo:
        history = tuple(
            StatusChange(_status(h["status"]), _aware(h["ts"]), h.get("reason", "")) for h in raw["history"]
        )
        if not history:
            msg = f"{raw.get('instance_id')} v{raw.get('version')}: empty status history"
            raise ValueError(msg)
        return cls(
            instance_id=raw["instance_id"],
            version=int(raw["version"]),
            parent=None if raw.get("parent") is None else int(raw["parent"]),
            created=_aware(raw["created"]),
            reason=raw.get("reason", ""),
            metrics={k: float(v) for k, v in (raw.get("metrics") or {}).items()},
            weights_sha256=raw["weights_sha256"],
            family=raw["family"],
            history=history,
            extra=dict(raw.get("extra") or {}),
        )


def _status(value: str) -> Status:
    if value not in STATUSES:
        msg = f"unknown status {value!r}"
        raise ValueError(msg)
    return cast(Status, value)


def _aware(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        msg = f"timestamp without a timezone: {text!r}"
        raise ValueError(msg)
    return value
