"""Label sources: rules, teachers above a threshold, the generator's conditioning; disagreement drops a row."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
import torch

from infra.registry.registry import LoadedModel
from infra.registry.versions import StatusChange, VersionInfo
from tests.workers.generator import toy
from workers.generator.codec import Row
from workers.generator.labels import ConditioningSource, RuleSource, TeacherSource, resolve
from workers.generator.model import Sample
from workers.generator.plugins import PluginError


def sample_of(xs: list[float], labels: list[int]) -> Sample:
    rows: list[Row] = [({"x": x, "n": 1.0}, {"colour": "red"}) for x in xs]
    return Sample(rows, np.array(labels), np.zeros((len(xs), 0)), np.zeros((len(xs), 4)))


def threshold_rule(features, attributes):
    return "high" if features["x"] > 2.5 else "low"


class Fixed(torch.nn.Module):
    """A teacher with fixed logits: p(high) = 0.95 where x > 3, p(high) = 0.6 elsewhere."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raw_x = x[:, 0] * 2.5 + 2.5  # the family standardises x with mean 2.5, std 2.5
        p_high = torch.where(raw_x > 3, 0.95, 0.6)
        return torch.stack([torch.log(1 - p_high), torch.log(p_high)], dim=1)


def teacher() -> LoadedModel:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    info = VersionInfo("peer", 1, None, now, "test", {}, "", "toy", (StatusChange("promoted", now),))
    return LoadedModel("peer", "toy", info, toy.FAMILY, Fixed(), torch.device("cpu"))


def test_rule_votes_and_agreement():
    sample = sample_of([0.0, 5.0], [0, 1])
    result = resolve([RuleSource("threshold", threshold_rule, toy.FAMILY.labels)], sample)
    labelled = [(d.label, d.source) if d else None for d in result.decisions]
    assert labelled == [("low", "rule:threshold"), ("high", "rule:threshold")]


def test_teacher_votes_only_when_confident():
    votes = TeacherSource(teacher(), 0.8).votes(sample_of([5.0, 1.0], [1, 0]))
    assert votes[0].label == "high" and votes[0].confidence == pytest.approx(0.95)
    assert votes[1].label is None  # 0.6 is below the threshold: abstains


def test_disagreeing_sources_drop_the_row():
    sample = sample_of([5.0, 4.0], [1, 1])
    contrary = RuleSource("contrary", lambda f, a: "low", toy.FAMILY.labels)
    result = resolve([contrary, TeacherSource(teacher(), 0.8)], sample)
    assert result.decisions == [None, None] and result.dropped == 2


def test_conditioning_labels_what_nobody_else_does():
    gen, _, _ = toy.trained(count=300, epochs=20)
    sample = gen.sample(np.array([0, 1]), None, seed=0)
    result = resolve([RuleSource("abstains", lambda f, a: None, toy.FAMILY.labels), ConditioningSource(gen)], sample)
    decisions = [d for d in result.decisions if d is not None]
    assert [d.source for d in decisions] == ["conditioning", "conditioning"]
    assert [d.label for d in decisions] == ["low", "high"]
    assert all(0 <= d.confidence <= 1 for d in decisions)


def test_a_failing_label_function_is_named():
    def broken(features, attributes):
        return features["salary"]

    with pytest.raises(PluginError, match=r"rule:broken.*row 0"):
        RuleSource("broken", broken, toy.FAMILY.labels).votes(sample_of([1.0], [0]))
    with pytest.raises(PluginError, match="returned 'maybe'"):
        RuleSource("odd", lambda f, a: "maybe", toy.FAMILY.labels).votes(sample_of([1.0], [0]))
