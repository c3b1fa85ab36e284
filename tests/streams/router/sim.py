"""A router engine over JSON-round-tripping dicts (as Faust's tables store values) and event helpers."""

from __future__ import annotations

import itertools
import json
import random
from typing import Any

from streams.router import CanaryPolicy, Effects, RouterEngine, RouterPolicy


class JsonTable(dict):
    """A dict that stores what JSON would give back: catches values a Faust table could not hold."""

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, json.loads(json.dumps(value, allow_nan=False)))


class Sim:
    def __init__(self, seed: int = 0, **policy: Any) -> None:
        canary = policy.pop("canary", CanaryPolicy(draws=4000))
        self.routes, self.evidence = JsonTable(), JsonTable()
        self.policy = RouterPolicy(**{"interval_ms": 1000, "draws": 4000, "canary": canary, **policy})
        self.engine = RouterEngine(self.routes, self.evidence, self.policy)
        self.rng = random.Random(seed)
        self.now = 1_800_000_000_000
        self.published: list[dict[str, Any] | None] = []
        self.versions: list[dict[str, Any]] = []
        self.statuses: list[Any] = []
        self.ids = itertools.count(1)

    def take(self, effects: Effects) -> Effects:
        self.published += [record for _, record in effects.weights]
        self.versions += effects.versions
        self.statuses += effects.statuses
        return effects

    def joined(self, instance: str, version: int, accuracy: float, route: str = "credit", **features: float) -> Effects:
        self.now += 10
        event = {
            "instance_id": instance,
            "model_version": version,
            "correct": self.rng.random() < accuracy,
            "features": features or {"age": self.rng.uniform(18, 80)},
            "attributes": {},
        }
        return self.take(self.engine.on_joined(route, 0, event, self.now))

    def candidate(self, instance: str, version: int, parent: int | None, slices=(), route: str = "credit") -> Effects:
        event = {
            "status": "candidate",
            "instance_id": instance,
            "version": version,
            "parent_version": parent,
            "target_slices": list(slices),
        }
        return self.take(self.engine.on_version(route, 0, event, self.now))

    def version_event(self, instance: str, version: int, status: str, route: str = "credit") -> Effects:
        event = {"status": status, "instance_id": instance, "version": version, "parent_version": None}
        return self.take(self.engine.on_version(route, 0, event, self.now))

    def command(self, action: str, kind: str, name: str, version: int | None = None, route: str = "credit") -> Effects:
        command = {
            "command_id": f"c{next(self.ids)}",
            "action": action,
            "targets": [{"kind": kind, "name": name, "version": version}],
            "issuer": "alice",
            "reason": "",
        }
        return self.take(self.engine.on_command(route, command, self.now))

    def traffic(self, accuracy: dict[str, float], n: int, version: int = 1) -> None:
        names = sorted(accuracy)
        for _ in range(n):
            name = self.rng.choice(names)
            self.joined(name, version, accuracy[name])

    def latest(self) -> dict[str, Any] | None:
        return self.published[-1] if self.published else None

    def weights(self) -> dict[tuple[str, int, str], float]:
        latest = self.latest()
        assert latest is not None
        return {(w["instance_id"], w["version"], w["role"]): w["weight"] for w in latest["weights"]}

    def state(self, instance: str, route: str = "credit") -> dict[str, Any]:
        return self.routes[route]["instances"][instance]
