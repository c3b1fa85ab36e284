"""Which features the errors come from: mean |SHAP| on misclassified inputs minus on correct ones.

Off the hot path: ``attribute_errors`` takes an immutable ``Frame`` snapshot (and, optionally, the
served torch module with its encoder) and is meant to run in an executor thread, a batch at a
time; sample sizes are bounded (``max_errors``, ``max_correct`` rows explained, ``background``
reference rows). Never KernelExplainer, never per event:

- a served ``nn.Module`` (encoded inputs -> class logits) is explained with
  ``shap.GradientExplainer`` (expected gradients; any differentiable module), each row for the
  class the model predicts there (``ranked_outputs=1``);
- without a served model, a surrogate MLP is fitted on the window (``surrogate``) and explained
  with ``shap.DeepExplainer`` (exact DeepLIFT rescale rules for Linear/ReLU networks,
  deterministic). By default the surrogate models the instance's *errors* (one logit, "wrong"),
  whose attributions point at the features errors depend on; ``surrogate="predictions"``
  imitates the instance's predictions instead and is explained like a served model. On the
  planted-box simulation of the tests the prediction surrogate's error attribution ranked a
  feature of the box last (it mostly reflects how confident the model is, errors being close to
  decision boundaries), the error surrogate ranked both box features first.

Columns of one feature (one-hot values) are summed per row. ``Attribution.method`` says which
model and explainer produced the scores.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from streams.profiling.encoding import Encoder, WindowEncoder
from streams.profiling.window import Frame

if TYPE_CHECKING:
    from torch import nn


@dataclass(frozen=True)
class Attribution:
    """Per-feature error attribution: mean |SHAP| on errors minus mean |SHAP| on correct rows."""

    scores: dict[str, float]
    method: str
    errors: int = 0  # misclassified rows explained
    correct: int = 0  # correctly classified rows explained

    @property
    def ranking(self) -> list[str]:
        """Features, most error-related first."""
        return sorted(self.scores, key=lambda f: -self.scores[f])


def explain_errors(
    model: nn.Module,
    x: np.ndarray,
    wrong: np.ndarray,
    groups: Mapping[str, Sequence[int]],
    *,
    explainer: Literal["gradient", "deep"] = "gradient",
    background: int = 100,
    max_errors: int = 200,
    max_correct: int = 200,
    nsamples: int = 50,
    seed: int = 0,
    threads: int | None = 1,
    method: str | None = None,
) -> Attribution:
    """Error attribution of ``model`` on encoded rows ``x`` (``wrong`` marks the misclassified ones).

    A model with one output is explained on it; with several, each row on its predicted class.
    """
    rng = np.random.default_rng(seed)
    wrong = np.asarray(wrong, dtype=bool)
    errors_idx = _sample(rng, np.nonzero(wrong)[0], max_errors)
    correct_idx = _sample(rng, np.nonzero(~wrong)[0], max_correct)
    background_idx = _sample(rng, np.arange(len(x)), background)
    label = method or f"{'GradientExplainer' if explainer == 'gradient' else 'DeepExplainer'} on the served model"
    if errors_idx.size == 0:
        return Attribution({name: 0.0 for name in groups}, label, 0, int(correct_idx.size))
    rows = np.concatenate([errors_idx, correct_idx])
    values = _shap(model, x, rows, background_idx, explainer, nsamples, seed, threads)
    per_feature = {name: np.abs(values[:, list(cols)]).sum(1) for name, cols in groups.items()}
    n_err = errors_idx.size
    scores = {
        name: float(v[:n_err].mean() - (v[n_err:].mean() if v.size > n_err else 0.0)) for name, v in per_feature.items()
    }
    return Attribution(scores, label, int(n_err), int(correct_idx.size))


def attribute_errors(
    frame: Frame,
    *,
    model: nn.Module | None = None,
    encoder: Encoder | None = None,
    surrogate: Literal["errors", "predictions"] = "errors",
    seed: int = 0,
    threads: int | None = 1,
    **kwargs: Any,
) -> Attribution:
    """Error attribution for a window: the served ``model`` (with its ``encoder``) or a surrogate.

    ``kwargs`` go to ``explain_errors`` (``background``, ``max_errors``, ``max_correct``, ``nsamples``).
    """
    if model is not None:
        if encoder is None:
            msg = "attribution of a served model needs the encoder that builds its input tensor"
            raise ValueError(msg)
        x = encoder.transform(frame)
        return explain_errors(model, x, frame.errors, encoder.groups, seed=seed, threads=threads, **kwargs)
    from streams.profiling.surrogate import fit_surrogate  # torch: imported where it is used

    window_encoder = WindowEncoder.fit(frame)
    x = window_encoder.transform(frame)
    targets = frame.errors if surrogate == "errors" else frame.predictions
    fitted = fit_surrogate(x, targets, seed=seed, threads=threads)
    what = "error" if surrogate == "errors" else "prediction"
    method = f"DeepExplainer on a surrogate {what} model (MLP, fidelity {fitted.fidelity:.3f})"
    return explain_errors(
        fitted.module,
        x,
        frame.errors,
        window_encoder.groups,
        explainer="deep",
        seed=seed,
        threads=threads,
        method=method,
        **kwargs,
    )


def _sample(rng: np.random.Generator, idx: np.ndarray, most: int) -> np.ndarray:
    return np.sort(rng.choice(idx, size=most, replace=False)) if idx.size > most else idx


def _shap(
    model: nn.Module,
    x: np.ndarray,
    rows: np.ndarray,
    background: np.ndarray,
    explainer: str,
    nsamples: int,
    seed: int,
    threads: int | None,
) -> np.ndarray:
    """SHAP values (rows, columns): of the single output, or of each row's predicted class."""
    import shap  # heavy imports: only where attribution runs
    import torch

    from streams.profiling.surrogate import torch_threads

    data = torch.as_tensor(np.asarray(x[background], dtype=np.float32))
    explained = torch.as_tensor(np.asarray(x[rows], dtype=np.float32))
    numpy_state = np.random.get_state()  # GradientExplainer reseeds numpy's global generator
    was_training = model.training
    model.eval()
    try:
        with torch_threads(threads), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with torch.no_grad():
                outputs = model(explained[:1])
            multi = outputs.ndim > 1 and outputs.shape[-1] > 1
            ranked: dict[str, object] = {"ranked_outputs": 1, "output_rank_order": "max"} if multi else {}
            if explainer == "deep":
                result = shap.DeepExplainer(model, data).shap_values(explained, check_additivity=False, **ranked)
            else:
                result = shap.GradientExplainer(model, data, batch_size=nsamples).shap_values(
                    explained, nsamples=nsamples, rseed=seed, **ranked
                )
    finally:
        np.random.set_state(numpy_state)
        model.train(was_training)
    values = result[0] if multi else result
    array = np.asarray(values, dtype=np.float64)
    return array.reshape(array.shape[0], array.shape[1], -1)[:, :, 0]
