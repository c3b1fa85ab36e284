"""Targeted sampling: inside a slice (with its acceptance rate), falling back when the slice is rare."""

from __future__ import annotations

import numpy as np
import pytest

from schemas.slices import Slice
from tests.workers.generator import toy
from workers.generator import targeting


def predicate(low: float, colour: str | None = None) -> Slice:
    conditions = [{"feature": "x", "low": low, "high": None, "value": None}]
    if colour is not None:
        conditions.append({"feature": "colour", "low": None, "high": None, "value": colour})
    return Slice.from_record({"description": f"x >= {low}", "predicate": conditions})


@pytest.fixture(scope="module")
def generator():
    return toy.trained()


def anchors_in(gen, data, labels, slice_):
    mask = slice_.mask(data)
    index = np.flatnonzero(mask)
    return targeting.Anchors([data[i] for i in index], labels[index], np.zeros((len(index), 0)))


def test_a_common_slice_is_sampled_from_the_prior(generator):
    gen, data, labels = generator
    slice_ = predicate(4.0)
    sample, report = targeting.in_slice(
        gen,
        slice_.mask,
        300,
        label_probs=np.array([0.5, 0.5]),
        anchors=anchors_in(gen, data, labels, slice_),
        budget=20,
        min_acceptance=0.1,
        scale=0.5,
        rng=np.random.default_rng(0),
        projection=slice_,
    )
    assert len(sample) == 300 and slice_.mask(sample.rows).all()
    assert report.fallback == targeting.FALLBACK_NONE and report.projected == 0
    assert 0.1 < report.acceptance_rate < 0.9  # about the share of x >= 4 under the prior


def test_a_rare_slice_falls_back_to_its_real_rows(generator):
    gen, data, labels = generator
    slice_ = predicate(6.5, colour="red")  # a handful of real rows, rarely sampled from the prior
    anchors = anchors_in(gen, data, labels, slice_)
    assert 0 < len(anchors) < 20
    sample, report = targeting.in_slice(
        gen,
        slice_.mask,
        200,
        label_probs=np.array([0.5, 0.5]),
        anchors=anchors,
        budget=20,
        min_acceptance=0.1,
        scale=0.5,
        rng=np.random.default_rng(0),
        projection=slice_,
    )
    assert report.fallback in (targeting.FALLBACK_ANCHORS, targeting.FALLBACK_PROJECTION)
    assert report.acceptance_rate < 0.1
    assert len(sample) == 200 and slice_.mask(sample.rows).all()


def test_projection_moves_rows_into_the_slice(generator):
    gen, _, _ = generator
    slice_ = predicate(7.0, colour="red")
    outside = gen.sample(np.zeros(50, dtype=int), None, seed=4)  # class 0: x near 0
    moved = targeting.project(gen, slice_, outside)
    assert len(moved) == 50 and slice_.mask(moved.rows).all()
    assert all(f["x"] == 7.0 for f, _ in moved.rows)


def test_neighbourhoods_stay_near_their_anchors(generator):
    gen, data, labels = generator
    index = np.flatnonzero(labels == 1)[:5]
    anchors = targeting.Anchors([data[i] for i in index], labels[index], np.zeros((5, 0)))
    near = targeting.around(gen, anchors, 200, scale=0.3, rng=np.random.default_rng(0))
    x = np.array([f["x"] for f, _ in near.rows])
    centre = np.mean([data[i][0]["x"] for i in index])
    assert abs(x.mean() - centre) < 1.5
    assert (near.labels == 1).all()
