"""Label sources and how their votes become a row's label.

Every source votes per row with a label and a confidence, or abstains. A row takes the
label all voting sources agree on, from the first voting source in priority order
(rules, then teachers, then the generator's own class conditioning), with that source's
name and confidence; a row whose sources disagree is dropped and counted.

Sources: ``rule:<name>`` (a label function registered for the route),
``teacher:<instance>`` (a peer strong on the slice, voting when its probability reaches
a threshold) and ``conditioning`` (the class the row was generated for, with the
generator's auxiliary classifier's probability of that class as confidence).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from infra.registry.family import EncodingError
from infra.registry.registry import LoadedModel
from workers.generator.model import Sample, TabularGenerator
from workers.generator.plugins import LabelFunction, PluginError


@dataclass(frozen=True)
class Vote:
    label: str | None  # None: abstain
    confidence: float = 1.0


ABSTAIN = Vote(None, 0.0)


class LabelSource(Protocol):
    name: str

    def votes(self, sample: Sample) -> list[Vote]: ...


class RuleSource:
    """A label function: returns a label, ``(label, confidence)`` or ``None`` (abstain).

    >>> from workers.generator.model import Sample
    >>> rows = [({"x": 1.0}, {}), ({"x": -1.0}, {})]
    >>> sample = Sample(rows, np.zeros(2, dtype=int), np.zeros((2, 0)), np.zeros((2, 1)))
    >>> RuleSource("sign", lambda f, a: "pos" if f["x"] > 0 else None, ("neg", "pos")).votes(sample)
    [Vote(label='pos', confidence=1.0), Vote(label=None, confidence=0.0)]
    """

    def __init__(self, name: str, function: LabelFunction, labels: Sequence[str]) -> None:
        self.name = f"rule:{name}"
        self.function = function
        self.labels = frozenset(labels)

    def votes(self, sample: Sample) -> list[Vote]:
        out = []
        for i, (features, attributes) in enumerate(sample.rows):
            try:
                answer = self.function(features, attributes)
            except Exception as exc:  # user code: name the function and the row
                msg = f"label function {self.name!r} failed on row {i}: {type(exc).__name__}: {exc}"
                raise PluginError(msg) from exc
            if answer is None:
                out.append(ABSTAIN)
                continue
            label, confidence = answer if isinstance(answer, tuple) else (answer, 1.0)
            if label not in self.labels:
                msg = f"label function {self.name!r} returned {label!r}, not one of {sorted(self.labels)}"
                raise PluginError(msg)
            out.append(Vote(str(label), float(confidence)))
        return out


class TeacherSource:
    """A peer instance's promoted version; votes where its top probability reaches ``threshold``."""

    def __init__(self, model: LoadedModel, threshold: float) -> None:
        self.name = f"teacher:{model.instance_id}"
        self.model = model
        self.threshold = threshold

    def votes(self, sample: Sample) -> list[Vote]:
        if not sample.rows:
            return []
        try:
            proba = self.model.predict_proba(sample.rows).numpy()
        except EncodingError:  # the peer reads other features: it cannot judge these rows
            return [ABSTAIN] * len(sample.rows)
        best = proba.argmax(axis=1)
        return [
            Vote(self.model.labels[k], float(p[k])) if p[k] >= self.threshold else ABSTAIN
            for k, p in zip(best, proba, strict=True)
        ]


class ConditioningSource:
    """The class each row was generated for; confidence from the generator's auxiliary classifier."""

    name = "conditioning"

    def __init__(self, generator: TabularGenerator) -> None:
        self.generator = generator

    def votes(self, sample: Sample) -> list[Vote]:
        if not sample.rows:
            return []
        proba = self.generator.class_probabilities(sample.x, sample.controls)
        labels = self.generator.labels
        return [Vote(labels[k], float(proba[i, k])) for i, k in enumerate(sample.labels)]


@dataclass(frozen=True)
class Decision:
    label: str
    source: str
    confidence: float


@dataclass(frozen=True)
class Resolution:
    decisions: list[Decision | None]  # None: dropped (disagreement) or unlabelled
    dropped: int  # sources disagreed
    unlabelled: int  # every source abstained


def resolve(sources: Sequence[LabelSource], sample: Sample) -> Resolution:
    """Label each row of ``sample`` from ``sources`` (in priority order).

    >>> class Fixed:
    ...     def __init__(self, name, labels): self.name, self.labels = name, labels
    ...     def votes(self, sample): return [Vote(x) for x in self.labels]
    >>> sample = Sample([({}, {})] * 3, np.zeros(3, dtype=int), np.zeros((3, 0)), np.zeros((3, 0)))
    >>> r = resolve([Fixed("rule:r", ["a", None, "a"]), Fixed("conditioning", ["a", "b", "b"])], sample)
    >>> [d.source if d else None for d in r.decisions], r.dropped
    (['rule:r', 'conditioning', None], 1)
    """
    ballots = [(source.name, source.votes(sample)) for source in sources]
    decisions: list[Decision | None] = []
    dropped = unlabelled = 0
    for i in range(len(sample.rows)):
        cast = [(name, votes[i]) for name, votes in ballots if votes[i].label is not None]
        if not cast:
            unlabelled += 1
            decisions.append(None)
            continue
        if len({vote.label for _, vote in cast}) > 1:
            dropped += 1
            decisions.append(None)
            continue
        name, vote = cast[0]
        assert vote.label is not None
        decisions.append(Decision(vote.label, name, vote.confidence))
    return Resolution(decisions, dropped, unlabelled)


def label_shares(labels: Sequence[str], classes: Sequence[str], smoothing: float = 1.0) -> np.ndarray:
    """Class probabilities from observed labels, smoothed (uniform when there are none).

    >>> label_shares(["a", "a", "b"], ["a", "b"], smoothing=0).tolist()
    [0.6666666666666666, 0.3333333333333333]
    """
    counts = np.array([sum(1 for x in labels if x == c) for c in classes], dtype=np.float64) + smoothing
    if counts.sum() == 0:
        counts = np.ones(len(classes))
    return counts / counts.sum()
