"""The model registry under several writers."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from infra.registry import ModelFamily, ModelRegistry

FAMILY = {
    "name": "mlp",
    "module": "workers.models:TabularMLP",
    "kwargs": {"in_features": 1, "n_classes": 2, "hidden": [4]},
    "features": [{"name": "x", "kind": "numeric"}],
    "labels": ["a", "b"],
}


def test_concurrent_writers_never_share_a_version_number(tmp_path):
    setup = ModelRegistry(str(tmp_path))
    family = setup.add_family(ModelFamily.from_json(FAMILY))
    setup.add_instance("credit-a", route="credit", family=family)
    setup.add_version("credit-a", family.build(), reason="initial", status="promoted")

    def write(worker: int) -> list[int]:
        registry = ModelRegistry(str(tmp_path))  # each writer its own view, like separate fine-tune workers
        return [registry.add_version("credit-a", family.build(), reason=f"w{worker}").version for _ in range(5)]

    with ThreadPoolExecutor(4) as pool:
        numbers = [n for batch in pool.map(write, range(4)) for n in batch]
    assert sorted(numbers) == list(range(2, 22))
    versions = setup.versions("credit-a")
    assert [v.version for v in versions] == list(range(1, 22))
    assert {v.parent for v in versions[1:]} == {1}


def test_a_claim_left_by_a_dead_writer_is_skipped(tmp_path):
    registry = ModelRegistry(str(tmp_path))
    family = registry.add_family(ModelFamily.from_json(FAMILY))
    registry.add_instance("credit-a", route="credit", family=family)
    registry.add_version("credit-a", family.build(), reason="initial", status="promoted")
    registry.storage.create_bytes("instances/credit-a/versions/000002/claim.json", b"{}")  # died before its weights
    assert registry.add_version("credit-a", family.build(), reason="next").version == 3
    assert [v.version for v in registry.versions("credit-a")] == [1, 3]
