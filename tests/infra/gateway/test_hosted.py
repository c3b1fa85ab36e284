"""Hot swap: a new version loads in the background while the old one keeps answering."""

from __future__ import annotations

import pytest
import torch

from infra.gateway import HostedModels, ModelNotAvailable, TorchPredictor, as_predictor
from infra.gateway.routing_table import RouteVector
from tests.infra.gateway.fakes import Registry, label_of
from tests.infra.gateway.weights_log import vector

FEATURES = {"age": 30.0, "income": 1.0}


def names(*entries: tuple[str, int, float], epoch: int = 1) -> RouteVector:
    return RouteVector.from_record(vector("credit", epoch, *entries))


def answer(models: HostedModels, instance: str, version: int) -> tuple[int, str]:
    served, model = models.get(instance, version)
    return served, model.predict(FEATURES, {})[0]


def test_the_old_version_answers_until_the_new_one_is_loaded():
    registry = Registry(gated={("a", 2)})
    models = HostedModels(registry)
    models.on_vector("credit", names(("a", 1, 1.0)))
    assert models.wait_idle(10) and models.loaded() == {"a": [1]}
    models.on_vector("credit", names(("a", 2, 1.0), epoch=2))
    assert answer(models, "a", 2) == (1, label_of(1))  # still loading: v1 answers
    registry.released.set()
    assert models.wait_idle(10)
    assert answer(models, "a", 2) == (2, label_of(2))
    assert models.loaded() == {"a": [2]}, "v1 is dropped once v2 is in place"
    models.close()


def test_beside_a_canary_the_stable_version_answers_for_it_while_it_loads():
    registry = Registry(gated={("a", 3)})
    models = HostedModels(registry)
    models.on_vector("credit", names(("a", 2, 1.0)))
    models.wait_idle(10)
    models.on_vector("credit", names(("a", 2, 0.9), ("a", 3, 0.1), epoch=2))
    assert answer(models, "a", 3) == (2, label_of(2))
    registry.released.set()
    models.wait_idle(10)
    assert answer(models, "a", 3) == (3, label_of(3)) and models.loaded() == {"a": [2, 3]}
    models.close()


def test_only_hosted_instances_load_and_an_unknown_one_loads_on_first_use():
    registry = Registry()
    models = HostedModels(registry, instances={"a"})
    models.on_vector("credit", names(("a", 1, 0.5), ("b", 1, 0.5)))
    models.wait_idle(10)
    assert models.loaded() == {"a": [1]} and not models.hosts("b")
    assert answer(models, "c", 2) == (2, label_of(2))
    models.close()


def test_a_failed_load_keeps_the_old_version_and_is_retried_when_named_again():
    registry = Registry(broken={("a", 2)})
    models = HostedModels(registry)
    models.on_vector("credit", names(("a", 1, 1.0)))
    models.on_vector("credit", names(("a", 2, 1.0), epoch=2))
    models.wait_idle(10)
    assert answer(models, "a", 2) == (1, label_of(1))
    registry.broken.clear()
    models.on_vector("credit", names(("a", 2, 1.0), epoch=3))
    models.wait_idle(10)
    assert answer(models, "a", 2) == (2, label_of(2))
    with pytest.raises(ModelNotAvailable, match="z v1 is not available: OSError"):
        HostedModels(Registry(broken={("z", 1)})).get("z", 1)
    models.close()


def test_predictors_from_what_a_registry_may_return():
    module = torch.nn.Linear(2, 2)

    class Encoding:
        def encode(self, features, attributes):
            return torch.tensor([features["age"], 1.0 if attributes.get("region") == "n" else 0.0])

    class Loaded:
        def __init__(self):
            self.module, self.encoding, self.labels = module, Encoding(), ("no", "yes")

    for loaded in [(module, ["age", "income"], ["no", "yes"]), Loaded(), (module, lambda f, a: [1.0, 2.0], "ny")]:
        label, probabilities = as_predictor(loaded).predict(FEATURES, {"region": "n"})
        assert label in probabilities and sum(probabilities.values()) == pytest.approx(1.0)
    with pytest.raises(ValueError, match=r"request lacks features \['income'\]"):
        TorchPredictor(module, ["age", "income"], ["no", "yes"]).predict({"age": 1.0}, {})
    with pytest.raises(TypeError, match="cannot serve a str"):
        as_predictor("weights.bin")


def test_models_from_the_model_registry_are_served_and_swapped(tmp_path):
    from infra.registry.family import ModelFamily
    from infra.registry.registry import ModelRegistry

    registry = ModelRegistry(str(tmp_path / "registry"))
    family = ModelFamily.from_json(
        {
            "name": "mlp",
            "module": "workers.models:TabularMLP",
            "kwargs": {"in_features": 2, "n_classes": 2, "hidden": [4]},
            "features": [{"name": "age", "kind": "numeric"}, {"name": "income", "kind": "numeric"}],
            "labels": ["approve", "deny"],
        }
    )
    registry.add_instance("credit-a", route="credit", family=family)
    registry.add_version("credit-a", family.build(), reason="initial", status="promoted")
    registry.add_version("credit-a", family.build(), reason="fine-tune")
    models = HostedModels(registry)
    models.on_vector("credit", names(("credit-a", 1, 1.0)))
    models.on_vector("credit", names(("credit-a", 1, 0.8), ("credit-a", 2, 0.2), epoch=2))
    assert models.wait_idle(30) and models.loaded() == {"credit-a": [1, 2]}
    for version in (1, 2):
        served, model = models.get("credit-a", version)
        label, probabilities = model.predict(FEATURES, {})
        assert served == version and label in ("approve", "deny")
        assert set(probabilities) == {"approve", "deny"} and sum(probabilities.values()) == pytest.approx(1.0)
    models.close()
