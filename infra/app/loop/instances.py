"""Deploy a scenario's instances: train each as its scenario says, register it, announce it as promoted.

The announcement (a ``promoted`` event on ``model.versions``) is how the router learns
an instance exists; its first weight vector follows.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

import torch

from infra.app.scenarios.spec import Labelled, Scenario, family_json
from infra.config import Settings
from infra.kafka_clients import producer
from infra.registry.family import ModelFamily
from infra.registry.registry import ModelRegistry
from infra.topics import message_key
from schemas import Serde

log = logging.getLogger(__name__)


def training_rows(scenario: Scenario, index: int) -> list[Labelled]:
    """The rows instance ``index`` learns from: all but ``keep`` of those inside its ``barely_saw`` region."""
    spec = scenario.instances[index]
    rows = scenario.dataset.draw(spec.train_rows, seed=spec.seed)
    if spec.barely_saw is None:
        return rows
    region = spec.barely_saw
    inside = [r for r in rows if region.contains(*r[0])]
    return [r for r in rows if not region.contains(*r[0])] + inside[: spec.keep]


def train(
    family: ModelFamily, rows: list[Labelled], *, epochs: int, lr: float, batch_size: int, seed: int
) -> torch.nn.Module:
    """A fresh module of ``family`` fitted to ``rows`` (Adam, cross-entropy, shuffled mini-batches), in eval mode."""
    torch.manual_seed(seed)
    model = family.build()
    x = family.encode_batch([r for r, _ in rows])
    y = torch.tensor([family.label_index(label) for _, label in rows])
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(rows), generator=generator)
        for start in range(0, len(rows), batch_size):
            index = order[start : start + batch_size]
            optimiser.zero_grad()
            torch.nn.functional.cross_entropy(model(x[index]), y[index]).backward()
            optimiser.step()
    return model.eval()


def deploy(settings: Settings, scenario: Scenario, registry: ModelRegistry) -> dict[str, float]:
    """Train, register and announce every instance not yet in the registry; their training accuracy."""
    reference = scenario.dataset.draw(4000, seed=scenario.traffic.seed + 1000)
    family = ModelFamily.from_json(family_json(scenario, reference))
    accuracies: dict[str, float] = {}
    announcements: list[dict[str, Any]] = []
    for index, spec in enumerate(scenario.instances):
        if _known(registry, spec.id) and registry.versions(spec.id):
            log.info("%s already registered (promoted v%s)", spec.id, registry.promoted_version(spec.id))
            continue
        rows = training_rows(scenario, index)
        m = scenario.model
        model = train(family, rows, epochs=m.epochs, lr=m.lr, batch_size=m.batch_size, seed=spec.seed)
        with torch.no_grad():
            predicted = model(family.encode_batch([r for r, _ in reference])).argmax(dim=1).tolist()
        accuracies[spec.id] = sum(family.labels[p] == y for p, (_, y) in zip(predicted, reference, strict=True)) / len(
            reference
        )
        registry.add_instance(spec.id, route=scenario.route, family=family)
        why = f"deployed by scenario {scenario.name!r}" + (
            f"; trained barely seeing {spec.barely_saw.description}" if spec.barely_saw else ""
        )
        info = registry.add_version(spec.id, model, reason=why, status="promoted")
        announcements.append(
            {
                "event_id": uuid.uuid4().hex,
                "instance_id": spec.id,
                "route": scenario.route,
                "version": info.version,
                "parent_version": None,
                "status": "promoted",
                "ts": datetime.now(UTC),
                "reason": why,
                "metrics": {"reference_accuracy": accuracies[spec.id]},
                "weights_uri": registry.weights_uri(spec.id, info.version),
                "target_slices": [],
            }
        )
    _announce(settings, announcements)
    return accuracies


def _known(registry: ModelRegistry, instance_id: str) -> bool:
    return any(i.instance_id == instance_id for i in registry.instances())


def _announce(settings: Settings, records: list[dict[str, Any]]) -> None:
    if not records:
        return
    serde, kafka = Serde.from_settings(settings), producer(settings)
    for record in records:
        kafka.produce(
            settings.topic("model.versions"),
            key=message_key("model.versions", record),
            value=serde.encode("model.versions", record),
        )
    left = kafka.flush(30)
    if left:
        msg = f"{left} instance announcement(s) on model.versions not delivered"
        raise RuntimeError(msg)
