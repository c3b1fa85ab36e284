"""``RoutingTable``: the routes' weight vectors from ``routing.weights``, for services that pick instances.

At start it reads ``routing.weights`` (compacted, keyed by route) from the beginning to the
end of the log and only then says it is ready; afterwards a background thread follows new
vectors. A vector whose epoch is not newer than the route's last one is dropped (stale or
replayed); a tombstone (null value) removes the route. Reads never block on the consumer:
each route's vector is an immutable object swapped in under a lock, so one table can be
shared by every thread of a service.

>>> book = RouteBook()
>>> vector = {"route": "credit", "epoch": 7, "reason": "r", "frozen": False,
...           "weights": [{"instance_id": "a", "version": 3, "weight": 0.7, "role": "stable"},
...                       {"instance_id": "b", "version": 1, "weight": 0.3, "role": "stable"}]}
>>> book.apply("credit", vector), book.apply("credit", {**vector, "epoch": 6})
('applied', 'stale')
>>> book.routes["credit"].pick(0.5), book.routes["credit"].pick(0.9)
(Target(instance_id='a', version=3, role='stable'), Target(instance_id='b', version=1, role='stable'))
>>> book.apply("credit", None), "credit" in book.routes
('removed', False)
"""

from __future__ import annotations

import bisect
import hashlib
import logging
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import KafkaException

from infra.config import Settings
from infra.topic_reader import Message, TopicReader
from schemas import Serde

log = logging.getLogger(__name__)
TOPIC = "routing.weights"
Listener = Callable[[str, "RouteVector | None"], None]


class RoutingError(RuntimeError):
    """The table cannot answer: not ready, unknown route, or no instance with weight."""


@dataclass(frozen=True)
class Target:
    """The instance version to call."""

    instance_id: str
    version: int
    role: str = "stable"


@dataclass(frozen=True)
class RouteVector:
    """One route's weights at one epoch (immutable)."""

    route: str
    epoch: int
    reason: str
    frozen: bool
    targets: tuple[Target, ...]
    weights: tuple[float, ...]
    _cumulative: tuple[float, ...] = field(repr=False, compare=False, default=())

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> RouteVector:
        kept = [w for w in record["weights"] if w["weight"] > 0]
        targets = tuple(Target(w["instance_id"], w["version"], w.get("role", "stable")) for w in kept)
        weights = tuple(float(w["weight"]) for w in kept)
        total, running = sum(weights), 0.0
        cumulative = []
        for weight in weights:
            running += weight / total
            cumulative.append(running)
        return cls(
            record["route"],
            record["epoch"],
            record.get("reason", ""),
            record.get("frozen", False),
            targets,
            weights,
            tuple(cumulative),
        )

    def pick(self, u: float) -> Target:
        """The target at ``u`` in [0, 1) of the cumulative weights."""
        if not self.targets:
            msg = f"route {self.route!r} (epoch {self.epoch}) has no instance with a positive weight"
            raise RoutingError(msg)
        return self.targets[min(bisect.bisect_right(self._cumulative, u), len(self.targets) - 1)]

    def versions(self) -> set[tuple[str, int]]:
        return {(t.instance_id, t.version) for t in self.targets}


class RouteBook:
    """The latest vector per route, with stale-epoch and tombstone rules; not thread-safe by itself."""

    def __init__(self) -> None:
        self.routes: dict[str, RouteVector] = {}
        self.epochs: dict[str, int] = {}

    def apply(self, route: str, record: Mapping[str, Any] | None) -> str:
        """``applied``, ``stale`` (epoch not newer), ``removed`` (tombstone) or ``ignored`` (tombstone of nothing)."""
        if record is None:
            return "removed" if self.routes.pop(route, None) is not None else "ignored"
        if record["epoch"] <= self.epochs.get(route, -1):
            return "stale"
        self.routes[route] = RouteVector.from_record(record)
        self.epochs[route] = record["epoch"]
        return "applied"


@dataclass
class TableStats:
    applied: int = 0
    stale: int = 0
    removed: int = 0
    undecodable: int = 0


class RoutingTable:
    """Follows ``routing.weights``; ``choose(route)`` returns the instance and version to call.

    Use ``start()`` (it waits until the log was read to its end) and ``close()``, or a
    ``with`` block. ``subscribe(listener)`` calls ``listener(route, vector_or_None)`` from the
    consumer thread after every applied change.
    """

    def __init__(self, settings: Settings, *, serde: Serde | None = None, poll_timeout: float = 0.2) -> None:
        self._settings = settings
        self._serde = serde or Serde.from_settings(settings)
        self._topic = settings.topic(TOPIC)
        self._poll_timeout = poll_timeout
        self._book = RouteBook()
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._listeners: list[Listener] = []
        self._thread: threading.Thread | None = None
        self._failure: str | None = None
        self.stats = TableStats()

    # -- lifecycle -------------------------------------------------------------------------

    def start(self, timeout: float | None = 60.0) -> RoutingTable:
        """Start following; with a ``timeout``, wait until ready or raise ``RoutingError``."""
        if self._thread is None:
            reader = TopicReader(self._settings, TOPIC, serde=self._serde, name="routing")
            try:
                reader.open()
            except KafkaException as exc:
                msg = f"cannot follow {self._topic}: {exc.args[0].str()}"
                raise RoutingError(msg) from exc
            self._thread = threading.Thread(
                target=self._run, args=(reader,), name=f"routing-table-{self._topic}", daemon=True
            )
            self._thread.start()
        if timeout is not None and not self.wait_ready(timeout):
            msg = f"{self._topic} not read to its end within {timeout:.0f}s" + (
                f": {self._failure}" if self._failure else ""
            )
            raise RoutingError(msg)
        return self

    def wait_ready(self, timeout: float | None = None) -> bool:
        """True once the log was read to its end (from the start)."""
        return self._ready.wait(timeout)

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> RoutingTable:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reads -----------------------------------------------------------------------------

    def choose(self, route: str, *, key: str | None = None, rng: random.Random | None = None) -> Target:
        """The instance version to call on ``route``, drawn by weight.

        With ``key`` (e.g. a user id) the draw is a hash of it: the same key lands on the same
        target while the weights stay the same.
        """
        vector = self.vector(route)
        if vector is None:
            state = "" if self.ready else " (the table is not ready yet)"
            msg = f"unknown route {route!r}{state}; known: {sorted(self.routes())}"
            raise RoutingError(msg)
        if key is not None:
            u = int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big") / 2**64
        else:
            u = (rng or random).random()
        return vector.pick(u)

    def vector(self, route: str) -> RouteVector | None:
        with self._lock:
            return self._book.routes.get(route)

    def routes(self) -> dict[str, RouteVector]:
        with self._lock:
            return dict(self._book.routes)

    def routes_of(self, instance_id: str) -> list[str]:
        """The routes whose vector names ``instance_id``."""
        return sorted(r for r, v in self.routes().items() if any(t.instance_id == instance_id for t in v.targets))

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    # -- the consumer thread ---------------------------------------------------------------

    def _run(self, reader: TopicReader) -> None:
        try:
            ends = reader.ends()
            while not self._stop.is_set():
                for message in reader.poll(self._poll_timeout):
                    self._handle(message)
                if not self._ready.is_set() and reader.reached(ends):
                    self._ready.set()
        except Exception as exc:  # the thread must say why it stopped
            self._failure = f"{type(exc).__name__}: {exc}"
            log.exception("%s: routing table stopped", self._topic)
        finally:
            reader.close()

    def _handle(self, message: Message) -> None:
        if message.error is not None:
            self.stats.undecodable += 1
            log.warning("%s: skipping an undecodable vector: %s", self._topic, message.error)
            return
        record = message.record
        route = record["route"] if record is not None else None
        if route is None and message.key is not None:
            route = message.key.decode("utf-8", "replace")
        if route is None:
            self.stats.undecodable += 1
            log.warning("%s[%s]@%s: tombstone without a key", self._topic, message.partition, message.offset)
            return
        with self._lock:
            outcome = self._book.apply(route, record)
            vector = self._book.routes.get(route)
        if outcome == "stale":
            self.stats.stale += 1
            return
        if outcome == "ignored":
            return
        if outcome == "applied":
            self.stats.applied += 1
        else:
            self.stats.removed += 1
        for listener in list(self._listeners):
            try:
                listener(route, vector)
            except Exception:
                log.exception("routing table listener failed on route %s", route)
