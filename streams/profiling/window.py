"""Bounded windows of recent labelled events: one per instance version, gathered per route.

A window keeps the last ``max_events`` joined events of one instance version and hands out an
immutable column view (``Frame``) for the profiling functions: numeric features as float arrays
(NaN where an event lacks the feature), categorical features and attributes as object arrays
(``None`` where missing). A ``Frame`` is a snapshot, safe to pass to a thread or an executor.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np


def to_millis(value: datetime | int) -> int:
    """Epoch milliseconds of an Avro timestamp, decoded (aware ``datetime``) or raw (``int``)."""
    return value if isinstance(value, int) else int(value.timestamp() * 1000)


@dataclass(frozen=True, slots=True)
class Event:
    """One labelled prediction."""

    features: Mapping[str, float]
    attributes: Mapping[str, str]
    label: str
    prediction: str
    correct: bool
    ts: int


@dataclass(frozen=True)
class Frame:
    """Columns of a set of labelled events (read-only numpy arrays, one row per event).

    The ``schemas.slices.Columns`` a ``Slice`` masks.
    """

    numeric: Mapping[str, np.ndarray]
    categorical: Mapping[str, np.ndarray]
    labels: np.ndarray
    predictions: np.ndarray
    correct: np.ndarray
    ts: np.ndarray

    def __len__(self) -> int:
        return len(self.correct)

    @property
    def errors(self) -> np.ndarray:
        """True where the prediction was wrong."""
        return ~self.correct

    @property
    def columns(self) -> list[str]:
        return [*self.numeric, *self.categorical]

    @classmethod
    def from_events(cls, events: Sequence[Event]) -> Frame:
        numeric_names = sorted({name for e in events for name in e.features})
        categorical_names = sorted({name for e in events for name in e.attributes})
        numeric = {
            name: np.array([e.features.get(name, np.nan) for e in events], dtype=np.float64) for name in numeric_names
        }
        categorical = {name: _objects([e.attributes.get(name) for e in events]) for name in categorical_names}
        return cls(
            numeric=numeric,
            categorical=categorical,
            labels=_objects([e.label for e in events]),
            predictions=_objects([e.prediction for e in events]),
            correct=np.array([e.correct for e in events], dtype=bool),
            ts=np.array([e.ts for e in events], dtype=np.int64),
        )

    @classmethod
    def concat(cls, frames: Iterable[Frame]) -> Frame:
        """Rows of all ``frames``; a column missing from one frame is NaN / ``None`` there."""
        frames = [f for f in frames if len(f)]
        if not frames:
            return cls.from_events([])
        numeric_names = sorted({n for f in frames for n in f.numeric})
        categorical_names = sorted({n for f in frames for n in f.categorical})
        numeric = {
            n: np.concatenate([f.numeric.get(n, np.full(len(f), np.nan)) for f in frames]) for n in numeric_names
        }
        categorical = {
            n: np.concatenate([f.categorical.get(n, _objects([None] * len(f))) for f in frames])
            for n in categorical_names
        }
        return cls(
            numeric=numeric,
            categorical=categorical,
            labels=np.concatenate([f.labels for f in frames]),
            predictions=np.concatenate([f.predictions for f in frames]),
            correct=np.concatenate([f.correct for f in frames]),
            ts=np.concatenate([f.ts for f in frames]),
        )


def _objects(values: Sequence[Any]) -> np.ndarray:
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


class EventWindow:
    """The last ``max_events`` labelled events of one instance version.

    ``clear`` empties it, e.g. after drift, so that the next profile is rebuilt from post-drift
    data only; ``since_ts`` then says from when the window's data dates.

    >>> w = EventWindow(max_events=2)
    >>> for i in range(3):
    ...     _ = w.add({"age": 20.0 + i}, {"region": "north"}, label="a", prediction="b" if i else "a", ts=i)
    >>> len(w), w.frame().numeric["age"].tolist(), w.frame().errors.tolist()
    (2, [21.0, 22.0], [True, True])
    >>> w.clear(ts=5)
    >>> len(w), w.since_ts, w.describe()
    (0, 5, 'no labelled events since 1970-01-01T00:00:00.005Z (cleared)')
    """

    def __init__(self, max_events: int = 2000) -> None:
        if max_events < 1:
            msg = f"max_events must be positive, got {max_events}"
            raise ValueError(msg)
        self.max_events = max_events
        self._events: deque[Event] = deque(maxlen=max_events)
        self._frame: Frame | None = None
        self.since_ts: int | None = None
        self.added = 0  # events added since creation or the last clear

    def __len__(self) -> int:
        return len(self._events)

    def add(
        self,
        features: Mapping[str, float],
        attributes: Mapping[str, str],
        *,
        label: str,
        prediction: str,
        ts: int,
        correct: bool | None = None,
    ) -> EventWindow:
        """Append one labelled event (``correct`` defaults to ``prediction == label``); returns self."""
        ok = prediction == label if correct is None else correct
        self._events.append(Event(dict(features), dict(attributes), label, prediction, ok, ts))
        self._frame = None
        self.added += 1
        return self

    def add_record(self, record: Mapping[str, Any]) -> EventWindow:
        """Append a ``joined.events`` record (decoded Avro); returns self."""
        return self.add(
            record["features"],
            record.get("attributes") or {},
            label=record["label"],
            prediction=record["prediction"],
            ts=to_millis(record["inference_ts"]),
            correct=record.get("correct"),
        )

    def clear(self, ts: int | None = None) -> None:
        """Forget every event; ``ts`` (epoch ms) is when, e.g. when drift was detected."""
        self._events.clear()
        self._frame = None
        self.added = 0
        self.since_ts = ts

    def frame(self) -> Frame:
        """An immutable column snapshot of the window (cached until the next change)."""
        if self._frame is None:
            self._frame = Frame.from_events(list(self._events))
        return self._frame

    def describe(self) -> str:
        """Which data a profile built now is built from, for the profile's ``window`` field."""
        cleared = f" since {_iso(self.since_ts)} (cleared)" if self.since_ts is not None else ""
        if not self._events:
            return f"no labelled events{cleared}"
        first, last = self._events[0].ts, self._events[-1].ts
        return f"last {len(self._events)} labelled events (max {self.max_events}), {_iso(first)} to {_iso(last)}" + (
            f"; post-drift data only{cleared}" if cleared else ""
        )


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class RouteWindows:
    """The windows of every instance version on one route, so that each instance has peers.

    Windows are keyed by ``(instance_id, model_version)``; an instance keeps at most
    ``max_versions`` windows (the least recently fed is dropped). An instance's peers are the
    route's other instances, each by its most recently fed version.

    >>> route = RouteWindows("credit", max_events=100)
    >>> rec = {"instance_id": "a", "model_version": 1, "features": {"x": 1.0}, "attributes": {},
    ...        "label": "y", "prediction": "y", "correct": True, "inference_ts": 0}
    >>> _ = route.add_record(rec)
    >>> _ = route.add_record(dict(rec, instance_id="b", correct=False, prediction="n"))
    >>> len(route.window("a", 1)), route.peers("a").errors.tolist()
    (1, [True])
    """

    def __init__(self, route: str, *, max_events: int = 2000, max_versions: int = 2) -> None:
        self.route = route
        self.max_events = max_events
        self.max_versions = max_versions
        self._windows: dict[tuple[str, int], EventWindow] = {}
        self._fed: dict[tuple[str, int], int] = {}
        self._clock = 0

    def __contains__(self, key: object) -> bool:
        return key in self._windows

    @property
    def keys(self) -> list[tuple[str, int]]:
        """``(instance_id, model_version)`` of every window."""
        return list(self._windows)

    def window(self, instance_id: str, model_version: int) -> EventWindow:
        """The window of an instance version, created empty if new."""
        key = (instance_id, model_version)
        if key not in self._windows:
            self._windows[key] = EventWindow(self.max_events)
            self._clock += 1
            self._fed[key] = self._clock
            versions = sorted((k for k in self._windows if k[0] == instance_id), key=self._fed.__getitem__)
            for old in versions[: max(0, len(versions) - self.max_versions)]:
                self.drop(*old)
        return self._windows[key]

    def add_record(self, record: Mapping[str, Any]) -> EventWindow:
        """Append a ``joined.events`` record to its instance version's window; returns that window."""
        window = self.window(record["instance_id"], int(record["model_version"]))
        window.add_record(record)
        self._clock += 1
        self._fed[(record["instance_id"], int(record["model_version"]))] = self._clock
        return window

    def drop(self, instance_id: str, model_version: int) -> None:
        self._windows.pop((instance_id, model_version), None)
        self._fed.pop((instance_id, model_version), None)

    def peers(self, instance_id: str) -> Frame:
        """Pooled events of the route's other instances (each by its most recently fed version)."""
        latest: dict[str, tuple[str, int]] = {}
        for key in self._windows:
            if key[0] != instance_id and (key[0] not in latest or self._fed[key] > self._fed[latest[key[0]]]):
                latest[key[0]] = key
        return Frame.concat(self._windows[key].frame() for key in sorted(latest.values()))
