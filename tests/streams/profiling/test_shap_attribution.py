"""SHAP error attribution: a served torch model and the surrogate fallback; bounded, side-effect free."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from streams.profiling.encoding import WindowEncoder
from streams.profiling.shap_attribution import attribute_errors, explain_errors
from streams.profiling.window import RouteWindows
from tests.streams.profiling import simulate as sim


class FlipsWhenX0IsLarge(nn.Module):
    """Right on ``x1 + x2 > 0`` except where ``x0 > 1``: its errors depend on x0 alone."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        margin = 4 * (x[:, 1] + x[:, 2]) * torch.tanh(3 * (1.0 - x[:, 0]))
        return torch.stack([-margin / 2, margin / 2], 1)


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_served_model_attribution_ranks_the_feature_errors_depend_on_first():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1500, 3)).astype(np.float32)
    model = FlipsWhenX0IsLarge()
    with torch.no_grad():
        wrong = model(torch.as_tensor(x)).argmax(1).numpy() != (x[:, 1] + x[:, 2] > 0)
    numpy_state = np.random.get_state()[1].copy()
    result = explain_errors(
        model, x, wrong, {"x0": [0], "x1": [1], "x2": [2]}, max_errors=100, max_correct=100, background=50
    )
    assert result.ranking[0] == "x0" and result.scores["x0"] > 0
    assert result.method == "GradientExplainer on the served model"
    assert (result.errors, result.correct) == (100, 100)  # bounded samples
    assert np.array_equal(np.random.get_state()[1], numpy_state)  # numpy's global generator untouched
    assert torch.get_num_threads() == 1


def test_surrogate_attribution_points_at_the_planted_box():
    route = RouteWindows("credit")
    rng = np.random.default_rng(0)
    for record in sim.records(rng, sim.Instance("a", weaknesses=[(sim.planted_box, 0.8)]), 1500):
        route.add_record(record)
    frame = route.window("a", 1).frame()
    result = attribute_errors(frame, max_errors=150, max_correct=150)
    assert set(result.ranking[:2]) == {"age", "income"}, result
    assert result.method.startswith("DeepExplainer on a surrogate error model")
    again = attribute_errors(frame, max_errors=150, max_correct=150)
    assert again.scores == result.scores  # seeded: deterministic


def test_served_model_needs_its_encoder_and_no_errors_means_zero():
    route = RouteWindows("credit")
    for record in sim.records(np.random.default_rng(1), sim.Instance("a", base_error=0.0), 200):
        route.add_record(record)
    frame = route.window("a", 1).frame()
    with pytest.raises(ValueError, match="encoder"):
        attribute_errors(frame, model=nn.Linear(3, 2))
    encoder = WindowEncoder.fit(frame)
    model = nn.Linear(len(encoder.columns), 3)
    result = attribute_errors(frame, model=model, encoder=encoder)
    assert result.scores == {"age": 0.0, "income": 0.0, "region": 0.0} and result.errors == 0
