"""The router's state, as JSON-able dataclasses stored in two Faust tables.

- ``RouteState`` (table ``router-routes``, key: the route): the structure of a route —
  its instances with their stable, pinned and earlier versions, canaries and queued
  candidates, the last published vector, its epoch and whether it is frozen. It changes
  rarely (new instance, evaluation, command).
- ``InstanceEvidence`` (table ``router-evidence``, key: ``evidence_key(route, instance)``):
  the counts of one instance on one route — correct/wrong per version from joined events
  and from the latest cumulative metrics snapshot, plus the running canary's counts. It
  changes with every joined event, so it is kept small and apart.

Both tables are keyed within a route, and the router's input topic is keyed by route, so
one route's state lives in one partition and is owned by exactly one worker at a time.

>>> state = RouteState("credit")
>>> state.instances["credit-a"] = InstanceState(stable=3, history=[1, 2])
>>> RouteState.from_dict(state.to_dict()).instances["credit-a"].history
[1, 2]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from streams.router.canary import Canary, CanaryCounts, Counts

SEP = "\x1f"


def evidence_key(route: str, instance_id: str) -> str:
    """Key of an instance's evidence on a route in the ``router-evidence`` table."""
    return f"{route}{SEP}{instance_id}"


@dataclass
class VersionEvidence:
    """Outcomes of one version: counted from joined events and reported by cumulative snapshots."""

    joined: Counts = field(default_factory=Counts)
    snapshot: Counts = field(default_factory=Counts)
    snapshot_ms: int = 0
    recent: list[float] = field(default_factory=lambda: [0.0, 0.0])  # correct, wrong; decayed
    recent_ms: int = 0

    def observe(self, correct: bool, now_ms: int, half_life_ms: int) -> None:
        """Count one joined outcome, in the cumulative counts and the recency-weighted ones."""
        self.joined.add(correct)
        self.recent = self.decayed(now_ms, half_life_ms)
        self.recent[0 if correct else 1] += 1.0
        self.recent_ms = max(self.recent_ms, now_ms)

    def decayed(self, now_ms: int, half_life_ms: int) -> list[float]:
        """The recency-weighted counts as of ``now_ms``: each outcome weighs half after ``half_life_ms``.

        >>> e = VersionEvidence()
        >>> e.observe(True, 0, 1000); e.observe(False, 1000, 1000)
        >>> e.decayed(2000, 1000)
        [0.25, 0.5]
        """
        if half_life_ms <= 0 or now_ms <= self.recent_ms:
            return list(self.recent)
        factor = 0.5 ** ((now_ms - self.recent_ms) / half_life_ms)
        return [v * factor for v in self.recent]

    @property
    def overall(self) -> Counts:
        """Both sources count the same labelled predictions; the one that has seen more wins
        (e.g. the router started after the version had served for a while). Never summed."""
        return self.joined if self.joined.n >= self.snapshot.n else self.snapshot

    def to_dict(self) -> dict[str, Any]:
        return {
            "j": self.joined.to_list(),
            "s": self.snapshot.to_list(),
            "sms": self.snapshot_ms,
            "r": self.recent,
            "rms": self.recent_ms,
        }

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> VersionEvidence:
        return cls(
            Counts.from_list(value.get("j")),
            Counts.from_list(value.get("s")),
            value.get("sms", 0),
            list(value.get("r", [0.0, 0.0])),
            value.get("rms", 0),
        )


@dataclass
class InstanceEvidence:
    """Everything counted for one instance on one route.

    ``offset`` is the router-input offset of the last envelope counted here and ``sources``
    the last joined-events offset per source partition: a replayed envelope (not newer than
    either) is not counted twice.
    """

    versions: dict[int, VersionEvidence] = field(default_factory=dict)
    canary: CanaryCounts = field(default_factory=CanaryCounts)
    last_seen_ms: int = 0
    offset: int = -1
    sources: dict[str, int] = field(default_factory=dict)

    def version(self, version: int) -> VersionEvidence:
        return self.versions.setdefault(version, VersionEvidence())

    def to_dict(self) -> dict[str, Any]:
        return {
            "versions": {str(v): e.to_dict() for v, e in self.versions.items()},
            "canary": self.canary.to_dict(),
            "seen": self.last_seen_ms,
            "o": self.offset,
            "src": self.sources,
        }

    @classmethod
    def from_dict(cls, value: Mapping[str, Any] | None) -> InstanceEvidence:
        if not value:
            return cls()
        return cls(
            {int(v): VersionEvidence.from_dict(e) for v, e in value.get("versions", {}).items()},
            CanaryCounts.from_dict(value.get("canary")),
            value.get("seen", 0),
            value.get("o", -1),
            dict(value.get("src", {})),
        )


@dataclass
class Candidate:
    """A candidate version waiting for its canary (the instance is busy, pinned, or the route frozen)."""

    version: int
    parent: int | None
    slices: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "parent": self.parent, "slices": self.slices}

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> Candidate:
        return cls(value["version"], value.get("parent"), list(value.get("slices", [])))


@dataclass
class InstanceState:
    """One instance on one route.

    ``stable`` is the version it serves; ``pinned`` overrides it while set; ``history`` holds
    earlier stable versions, oldest first (what ``rollback`` returns to); ``retired`` versions
    were rolled back or rejected and never become stable again from traffic alone.
    """

    stable: int | None = None
    pinned: int | None = None
    history: list[int] = field(default_factory=list)
    retired: list[int] = field(default_factory=list)
    canary: Canary | None = None
    queued: Candidate | None = None
    added_ms: int = 0

    @property
    def serving(self) -> int | None:
        return self.pinned if self.pinned is not None else self.stable

    def retire(self, version: int) -> None:
        if version not in self.retired:
            self.retired.append(version)

    def known(self, version: int) -> bool:
        candidates = [self.stable, self.pinned, *self.history, *self.retired]
        if self.canary is not None:
            candidates.append(self.canary.version)
        return version in candidates

    def to_dict(self) -> dict[str, Any]:
        return {
            "stable": self.stable,
            "pinned": self.pinned,
            "history": self.history,
            "retired": self.retired,
            "canary": None if self.canary is None else self.canary.to_dict(),
            "queued": None if self.queued is None else self.queued.to_dict(),
            "added_ms": self.added_ms,
        }

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> InstanceState:
        canary, queued = value.get("canary"), value.get("queued")
        return cls(
            stable=value.get("stable"),
            pinned=value.get("pinned"),
            history=list(value.get("history", [])),
            retired=list(value.get("retired", [])),
            canary=None if canary is None else Canary.from_dict(canary),
            queued=None if queued is None else Candidate.from_dict(queued),
            added_ms=value.get("added_ms", 0),
        )


@dataclass(frozen=True)
class Entry:
    """One entry of a published weight vector."""

    instance_id: str
    version: int
    weight: float
    role: str = "stable"

    def to_record(self) -> dict[str, Any]:
        return {"instance_id": self.instance_id, "version": self.version, "weight": self.weight, "role": self.role}


@dataclass
class RouteState:
    """One route: its instances, what was last published, its epoch; ``partition`` is where it lives.

    Replay protection (at-least-once processing): ``offset`` is the router-input offset of the
    last envelope that changed this state, ``sources`` the last ``model.versions`` offset per
    source partition, ``commands`` the outcome of each command applied here (by id, until
    ``until_ms``), so a replayed envelope or command changes nothing twice.
    """

    route: str
    instances: dict[str, InstanceState] = field(default_factory=dict)
    epoch: int = 0
    frozen: bool = False
    published: list[Entry] | None = None
    last_eval_ms: int = 0
    partition: int = 0
    offset: int = -1
    sources: dict[str, int] = field(default_factory=dict)
    commands: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "route": self.route,
            "instances": {k: v.to_dict() for k, v in self.instances.items()},
            "epoch": self.epoch,
            "frozen": self.frozen,
            "published": None if self.published is None else [e.to_record() for e in self.published],
            "last_eval_ms": self.last_eval_ms,
            "p": self.partition,
            "o": self.offset,
            "src": self.sources,
            "cmd": self.commands,
        }

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> RouteState:
        published = value.get("published")
        return cls(
            route=value["route"],
            instances={k: InstanceState.from_dict(v) for k, v in value.get("instances", {}).items()},
            epoch=value.get("epoch", 0),
            frozen=value.get("frozen", False),
            published=None if published is None else [Entry(**e) for e in published],
            last_eval_ms=value.get("last_eval_ms", 0),
            partition=value.get("p", 0),
            offset=value.get("o", -1),
            sources=dict(value.get("src", {})),
            commands=dict(value.get("cmd", {})),
        )


def replayed(sources: dict[str, int], source: tuple[str, int] | None) -> bool:
    """True if ``source`` (a source partition tag, an offset) is not newer than the last one seen;
    otherwise remember it. ``None`` (source unknown) is never a replay."""
    if source is None:
        return False
    tag, offset = source
    if offset <= sources.get(tag, -1):
        return True
    sources[tag] = offset
    return False
