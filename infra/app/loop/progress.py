"""Follow the loop's topics and say what is happening: accuracy, weights, versions, weak slices, workers.

``Progress`` reads ``metrics.snapshots``, ``routing.weights``, ``model.versions``,
``profile.changes``, ``synthetic.batches``, ``deadletter`` and ``stage.lag`` from their beginning in a
background thread (its own consumer, no group) and keeps the latest picture;
``lines()`` renders it for the terminal.
"""

from __future__ import annotations

import copy
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from infra.app.loop.heal import Shares
from infra.config import Settings
from infra.topic_reader import TopicReader
from schemas import Serde

TOPICS = (
    "metrics.snapshots",
    "routing.weights",
    "model.versions",
    "profile.changes",
    "synthetic.batches",
    "deadletter",
    "stage.lag",
)
STAGES = ("join", "metrics", "profiling", "router", "sink")


@dataclass
class Picture:
    accuracy: dict[tuple[str, int], tuple[float, int]] = field(default_factory=dict)  # (instance, version) -> 1m
    weights: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # route -> latest vector
    weight_history: list[tuple[float, Shares]] = field(default_factory=list)  # (epoch seconds, shares)
    versions: list[dict[str, Any]] = field(default_factory=list)
    weak: dict[str, str] = field(default_factory=dict)  # instance -> latest slice description
    changes: Counter[str] = field(default_factory=Counter)
    batches: list[dict[str, Any]] = field(default_factory=list)
    dead: Counter[str] = field(default_factory=Counter)
    lag: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # (stage, worker) -> latest record


class Progress:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.picture = Picture()
        self._serde = Serde.from_settings(settings)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="insitu-progress", daemon=True)

    def start(self) -> Progress:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def snapshot(self) -> Picture:
        with self._lock:
            return copy.deepcopy(self.picture)

    def _run(self) -> None:
        with TopicReader(self.settings, TOPICS, serde=self._serde, name="progress") as reader:
            while not self._stop.is_set():
                for message in reader.poll(0.5):
                    if message.record is not None:
                        with self._lock:
                            self._apply(message.topic, message.record)

    def _apply(self, topic: str, record: dict[str, Any]) -> None:
        p = self.picture
        if topic == "metrics.snapshots" and record["window"] == "1m":
            p.accuracy[(record["instance_id"], record["model_version"])] = (record["accuracy"], record["labelled"])
        elif topic == "routing.weights":
            p.weights[record["route"]] = record["weights"]
            shares: dict[str, dict[int, float]] = {}
            for entry in record["weights"]:
                shares.setdefault(entry["instance_id"], {})[entry["version"]] = entry["weight"]
            p.weight_history.append((record["ts"].timestamp(), shares))
        elif topic == "model.versions":
            p.versions.append(record)
        elif topic == "profile.changes":
            p.changes[record["kind"]] += 1
            if record["kind"] == "slice_appeared" and record["slice"]:
                p.weak[record["instance_id"]] = record["slice"]["description"]
            elif record["kind"] == "slice_resolved":
                p.weak.pop(record["instance_id"], None)
        elif topic == "synthetic.batches":
            p.batches.append(
                {"instance_id": record["instance_id"], "rows": len(record["rows"]), "slices": record["target_slices"]}
            )
        elif topic == "deadletter":
            p.dead[record["reason"]] += 1
        elif topic == "stage.lag":
            p.lag[(record["stage"], record["worker"])] = record

    def lines(self, route: str) -> list[str]:
        p = self.snapshot()
        out = []
        shares: dict[str, dict[int, float]] = {}
        for entry in p.weights.get(route, []):
            shares.setdefault(entry["instance_id"], {})[entry["version"]] = entry["weight"]
        instances = sorted({i for i, _ in p.accuracy} | set(shares))
        for instance in instances:
            versions = sorted({v for i, v in p.accuracy if i == instance} | set(shares.get(instance, {})))
            parts = []
            for version in versions:
                acc = p.accuracy.get((instance, version))
                weight = shares.get(instance, {}).get(version)
                acc_text = f"acc {acc[0]:.3f}" if acc else "acc  -  "
                weight_text = f"{weight:5.1%}" if weight is not None else "  -  "
                parts.append(f"v{version} {acc_text} share {weight_text}")
            weak = p.weak.get(instance)
            out.append(f"  {instance:<12} " + " | ".join(parts) + (f"   weak on: {weak}" if weak else ""))
        made = [v for v in p.versions if v["parent_version"] is not None]  # not the initial deployments
        statuses = Counter(v["status"] for v in made)
        activity = f"profile changes {sum(p.changes.values())}, synthetic batches {len(p.batches)}, " + (
            ", ".join(f"{k} {n}" for k, n in sorted(statuses.items())) or "no new versions yet"
        )
        if made:
            last = made[-1]
            activity += f"; last: {last['instance_id']} v{last['version']} {last['status']}"
        out.append(f"  workers: {activity}")
        if p.dead:
            out.append("  dead letters: " + ", ".join(f"{k} {v}" for k, v in sorted(p.dead.items())))
        if p.lag:
            out.append("  lag: " + lag_line(p.lag))
        return out


def lag_line(latest: dict[tuple[str, str], dict[str, Any]]) -> str:
    """Per stage, over its processes: messages behind, and the longest delay of the last interval.

    >>> lag_line({("join", "h:1"): {"messages_behind": 12, "delay_max_ms": 340},
    ...           ("sink", "h:2"): {"messages_behind": 0, "delay_max_ms": None}})
    'join 12 behind 0.3 s, sink 0 behind'
    """
    parts = []
    for stage in sorted({s for s, _ in latest}, key=lambda s: (STAGES.index(s) if s in STAGES else len(STAGES), s)):
        records = [r for (s, _), r in latest.items() if s == stage]
        delays = [r["delay_max_ms"] for r in records if r["delay_max_ms"] is not None]
        text = f"{stage} {sum(r['messages_behind'] for r in records):,} behind"
        parts.append(text + (f" {max(delays) / 1000:.1f} s" if delays else ""))
    return ", ".join(parts)
