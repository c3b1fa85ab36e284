"""The router's registry calls against the model registry of ``workers``."""

from __future__ import annotations

import logging

from streams.config import StreamSettings
from streams.router.registry import open_registry, record_status
from streams.router.transitions import StatusChange


def test_statuses_are_recorded_once_and_refusals_only_logged(tmp_path, caplog):
    from infra.registry.family import ModelFamily

    registry = open_registry(StreamSettings(data_dir=tmp_path))
    assert registry is not None and registry.uri.endswith("registry")
    family = ModelFamily.from_json(
        {
            "name": "mlp",
            "module": "workers.models:TabularMLP",
            "kwargs": {"in_features": 1, "n_classes": 2, "hidden": [2]},
            "features": [{"name": "x", "kind": "numeric"}],
            "labels": ["a", "b"],
        }
    )
    registry.add_instance("credit-a", route="credit", family=family)
    registry.add_version("credit-a", family.build(), reason="initial", status="promoted")
    registry.add_version("credit-a", family.build(), reason="fine-tune")
    promote = StatusChange("credit-a", 2, "promoted", "v2 better than v1")
    assert record_status(registry, promote) and registry.promoted_version("credit-a") == 2
    assert record_status(registry, promote), "a replayed decision is a no-op"
    assert [c.status for c in registry.version("credit-a", 2).history] == ["candidate", "promoted"]
    assert record_status(registry, StatusChange("credit-a", 2, "rolled_back", "worse"))
    assert registry.promoted_version("credit-a") == 1
    with caplog.at_level(logging.WARNING):
        assert not record_status(registry, StatusChange("credit-a", 2, "rejected", "x"))
        assert not record_status(registry, StatusChange("unknown", 1, "rolled_back", "x"))
    assert "cannot go from rolled_back to rejected" in caplog.text and "unknown v1" in caplog.text
