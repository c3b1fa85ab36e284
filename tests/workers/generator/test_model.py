"""The conditional VAE learns each class's distribution; samples stay valid rows; checkpoints restore exactly."""

from __future__ import annotations

import numpy as np
import pytest

from tests.workers.generator import toy
from workers.generator.store import GeneratorStore, generator_key


@pytest.fixture(scope="module")
def generator():
    return toy.trained()


def test_samples_follow_their_class(generator):
    gen, _, _ = generator
    for label, centre, colour in ((0, 0.0, "red"), (1, 5.0, "blue")):
        sample = gen.sample(np.full(500, label), None, seed=1)
        x = np.array([f["x"] for f, _ in sample.rows])
        assert abs(x.mean() - centre) < 1.0, (label, x.mean())
        share = np.mean([a["colour"] == colour for _, a in sample.rows])
        assert share > 0.7, (label, share)


def test_samples_are_valid_rows(generator):
    gen, _, _ = generator
    sample = gen.sample(np.arange(400) % 2, None, seed=2)
    n = np.array([f["n"] for f, _ in sample.rows])
    assert np.all(n == np.round(n)), "an integral feature comes back integral"
    assert n.min() >= 0 and n.max() <= 10, "numeric values stay inside the real range"
    assert {a["colour"] for _, a in sample.rows} <= {"red", "blue"}
    assert sample.x.shape == (400, gen.codec.width)
    assert np.allclose(sample.x, gen.codec.encode(sample.rows))


def test_auxiliary_classifier_knows_the_classes(generator):
    gen, data, labels = generator
    proba = gen.class_probabilities(gen.codec.encode(data), np.zeros((len(data), 0)))
    assert np.mean(proba.argmax(axis=1) == labels) > 0.9


def test_checkpoint_restores_the_same_generator(generator, tmp_path):
    gen, _, _ = generator
    store = GeneratorStore(str(tmp_path))
    key = generator_key("toy/route", toy.FAMILY, [], 4, 32)
    assert store.load(key, toy.CPU) is None
    store.save(key, gen, {"rows_fingerprint": "abc"})
    loaded = store.load(key, toy.CPU)
    assert loaded is not None
    restored, extra = loaded
    assert extra == {"rows_fingerprint": "abc"}
    before = gen.sample(np.array([0, 1, 1, 0]), None, seed=3)
    after = restored.sample(np.array([0, 1, 1, 0]), None, seed=3)
    assert before.rows == after.rows


def test_a_corrupt_checkpoint_is_a_clear_error(generator, tmp_path):
    gen, _, _ = generator
    store = GeneratorStore(str(tmp_path))
    store.save("k", gen, {})
    store.storage.write_bytes("k/generator.safetensors", b"not safetensors")
    with pytest.raises(ValueError, match="unusable"):
        store.load("k", toy.CPU)
