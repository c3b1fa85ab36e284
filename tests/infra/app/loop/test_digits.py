"""The ``digits`` scenario: the blur score separates blurred digits, and the generator's blur control makes them."""

from __future__ import annotations

import numpy as np
import pytest

from infra.app.loop.instances import training_rows
from infra.app.scenarios import load_scenario
from infra.app.scenarios.digits import BLURRED_SHARE, PIXELS, blur
from infra.app.scenarios.spec import family_json
from infra.registry.family import ModelFamily
from tests.workers.generator.toy import CPU
from workers.generator.codec import TabularCodec
from workers.generator.model import TabularGenerator

THRESHOLD = 0.72  # the scenario's "blurred" slice: blur >= 0.72


@pytest.fixture(scope="module")
def scenario():
    return load_scenario("digits")


def test_the_reported_blur_is_the_control_and_splits_blurred_from_sharp(scenario):
    rows = scenario.dataset.draw(1500, seed=5)
    reported = np.array([features["blur"] for (features, _), _ in rows])
    computed = np.array([blur(*row) for row, _ in rows])
    assert np.allclose(reported, computed, atol=0.01), "the generator's control reads what the service reports"
    blurred = reported >= THRESHOLD
    assert abs(blurred.mean() - BLURRED_SHARE) < 0.05
    assert ((reported > 0.68) & (reported < 0.76)).mean() < 0.02, "few digits sit near the threshold"
    assert set(scenario.dataset.signals) == {"blur"} and "blur" not in scenario.dataset.numeric


def test_the_weak_instance_barely_sees_blurred_digits(scenario):
    weak = scenario.instances[0]
    rows = training_rows(scenario, 0)
    assert weak.barely_saw is not None
    assert sum(features["blur"] >= THRESHOLD for (features, _), _ in rows) == weak.keep
    family = family_json(scenario, rows)
    assert [f["name"] for f in family["features"]] == list(PIXELS), "the model reads pixels, not the blur score"


def test_the_blur_control_generates_blurred_or_sharp_digits_on_request(scenario):
    data = scenario.dataset.draw(2000, seed=9)
    family = ModelFamily.from_json(family_json(scenario, data))
    rows = [row for row, _ in data]
    labels = np.array([family.label_index(label) for _, label in data])
    controls = np.array([[blur(*row)] for row in rows])
    codec = TabularCodec.for_family(family, ["blur"]).fit(rows, controls)
    gen = TabularGenerator(codec, family.labels, CPU, latent=8, hidden=128)
    gen.fit(rows, labels, controls, epochs=30, seed=0)
    gen.noise = 0.0  # as the scenario's INSITU_GENERATOR_NOISE says: noise per pixel would sharpen every digit

    digits = np.arange(400) % 10
    blurred = gen.sample(digits, np.full((400, 1), 0.85), seed=1)
    sharp = gen.sample(digits, np.full((400, 1), 0.45), seed=1)
    blurred_share = np.mean([blur(*row) >= THRESHOLD for row in blurred.rows])
    sharp_share = np.mean([blur(*row) >= THRESHOLD for row in sharp.rows])
    assert blurred_share > 0.8 and sharp_share < 0.2, (blurred_share, sharp_share)
