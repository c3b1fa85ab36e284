"""The canary of a candidate version: its ramp, and when it is promoted or rolled back.

A candidate serves a small share of its instance's traffic beside the instance's stable
version (its *baseline*). Both are counted from the moment the canary starts, overall and
on the weak slices the candidate was made for, so the comparison is concurrent (same
traffic, same time). ``decide`` reads the Beta posteriors of the two accuracies:

- **rollback** when P(candidate worse) >= ``rollback_confidence`` overall, or on a target
  slice (a regression on the slice it was made for), once both sides have enough samples;
- **promote** when, overall *and* on every target slice, P(candidate better) >=
  ``promote_confidence``, or after ``noninferior_samples`` P(candidate > baseline - margin)
  >= ``promote_confidence`` (not worse);
- **reject** when still undecided after ``max_samples``;
- **ramp** to the next share after ``step_samples`` more samples while it is not behind;
- otherwise **hold**. While changes are not allowed (route frozen, instance pinned) only
  rollbacks happen.

>>> policy = CanaryPolicy(draws=4000)
>>> counts = CanaryCounts(candidate=Counts(95, 5), baseline=Counts(700, 300))
>>> decide(Canary(version=4, baseline=3), counts, policy).action
'promote'
>>> decide(Canary(version=4, baseline=3), CanaryCounts(Counts(60, 40), Counts(900, 100)), policy).action
'rollback'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from schemas.slices import Slice
from streams.config import default
from streams.router.weights import Beta, probability_greater

Action = Literal["hold", "ramp", "promote", "rollback", "reject"]


@dataclass(frozen=True)
class CanaryPolicy:
    """Hyperparameters of the canary (see ``StreamSettings``' ``canary_*`` fields)."""

    steps: tuple[float, ...] = tuple(default("canary_steps"))
    step_samples: int = default("canary_step_samples")
    min_samples: int = default("canary_min_samples")
    noninferior_samples: int = default("canary_noninferior_samples")
    margin: float = default("canary_margin")
    promote_confidence: float = default("canary_confidence")
    rollback_confidence: float = default("rollback_confidence")
    slice_min_samples: int = default("canary_slice_min_samples")
    max_samples: int = default("canary_max_samples")
    draws: int = default("router_draws")


@dataclass
class Counts:
    """Correct and wrong predictions."""

    correct: int = 0
    wrong: int = 0

    @property
    def n(self) -> int:
        return self.correct + self.wrong

    @property
    def posterior(self) -> Beta:
        return Beta.of(self.correct, self.wrong)

    def add(self, correct: bool) -> Counts:
        if correct:
            self.correct += 1
        else:
            self.wrong += 1
        return self

    def to_list(self) -> list[int]:
        return [self.correct, self.wrong]

    @classmethod
    def from_list(cls, value: list[int] | None) -> Counts:
        return cls(*value) if value else cls()


@dataclass
class Canary:
    """What is being tried: ``version`` against ``baseline``, at ramp ``step`` since ``step_n`` samples."""

    version: int
    baseline: int
    parent: int | None = None
    started_ms: int = 0
    step: int = 0
    step_n: int = 0
    slices: tuple[Slice, ...] = ()

    def share(self, policy: CanaryPolicy) -> float:
        return policy.steps[min(self.step, len(policy.steps) - 1)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "baseline": self.baseline,
            "parent": self.parent,
            "started_ms": self.started_ms,
            "step": self.step,
            "step_n": self.step_n,
            "slices": [s.to_record() for s in self.slices],
        }

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> Canary:
        return cls(
            version=value["version"],
            baseline=value["baseline"],
            parent=value.get("parent"),
            started_ms=value.get("started_ms", 0),
            step=value.get("step", 0),
            step_n=value.get("step_n", 0),
            slices=tuple(Slice.from_record(s) for s in value.get("slices", [])),
        )


@dataclass
class CanaryCounts:
    """The evidence of a running canary: candidate and baseline, overall and per target slice."""

    candidate: Counts = field(default_factory=Counts)
    baseline: Counts = field(default_factory=Counts)
    slice_candidate: dict[str, Counts] = field(default_factory=dict)
    slice_baseline: dict[str, Counts] = field(default_factory=dict)

    def observe(
        self,
        canary: Canary,
        version: int,
        correct: bool,
        features: Mapping[str, float],
        attributes: Mapping[str, str],
    ) -> bool:
        """Count one labelled prediction of the candidate or its baseline; False for other versions."""
        if version == canary.version:
            overall, per_slice = self.candidate, self.slice_candidate
        elif version == canary.baseline:
            overall, per_slice = self.baseline, self.slice_baseline
        else:
            return False
        overall.add(correct)
        for target in canary.slices:
            if target.contains(features, attributes):
                per_slice.setdefault(target.description, Counts()).add(correct)
        return True

    def to_dict(self) -> dict[str, Any]:
        return {
            "c": self.candidate.to_list(),
            "b": self.baseline.to_list(),
            "sc": {k: v.to_list() for k, v in self.slice_candidate.items()},
            "sb": {k: v.to_list() for k, v in self.slice_baseline.items()},
        }

    @classmethod
    def from_dict(cls, value: Mapping[str, Any] | None) -> CanaryCounts:
        if not value:
            return cls()
        return cls(
            Counts.from_list(value.get("c")),
            Counts.from_list(value.get("b")),
            {k: Counts.from_list(v) for k, v in value.get("sc", {}).items()},
            {k: Counts.from_list(v) for k, v in value.get("sb", {}).items()},
        )


@dataclass(frozen=True)
class Verdict:
    """What to do with a canary, why, and the numbers behind it (for ``model.versions`` metrics)."""

    action: Action
    reason: str
    metrics: dict[str, float]


def decide(canary: Canary, counts: CanaryCounts, policy: CanaryPolicy, *, allow_changes: bool = True) -> Verdict:
    """The verdict on ``canary`` given its ``counts`` (see the module docstring for the rules)."""
    cand, base = counts.candidate, counts.baseline
    v, b = f"v{canary.version}", f"v{canary.baseline}"
    p_better, p_worse = _greater(cand, base, 0.0, policy), _greater(base, cand, 0.0, policy)
    metrics = {
        "candidate_accuracy": cand.posterior.mean,
        "baseline_accuracy": base.posterior.mean,
        "candidate_samples": float(cand.n),
        "baseline_samples": float(base.n),
        "p_better": p_better,
        "p_worse": p_worse,
    }
    enough = cand.n >= policy.min_samples and base.n >= policy.min_samples
    if enough and p_worse >= policy.rollback_confidence:
        return Verdict(
            "rollback", f"{v} worse than {b} overall: {_acc(cand)} vs {_acc(base)}, P(worse)={p_worse:.3f}", metrics
        )
    slice_ok = True
    for target in canary.slices:
        sc = counts.slice_candidate.get(target.description, Counts())
        sb = counts.slice_baseline.get(target.description, Counts())
        s_better, s_worse = _greater(sc, sb, 0.0, policy), _greater(sb, sc, 0.0, policy)
        metrics[f"slice_p_better[{target.description}]"] = s_better
        metrics[f"slice_samples[{target.description}]"] = float(sc.n)
        slice_enough = sc.n >= policy.slice_min_samples and sb.n >= policy.slice_min_samples
        if slice_enough and s_worse >= policy.rollback_confidence:
            reason = (
                f"{v} regressed on its slice '{target.description}': {_acc(sc)} vs {_acc(sb)}, P(worse)={s_worse:.3f}"
            )
            return Verdict("rollback", reason, metrics)
        slice_ok = slice_ok and slice_enough and _good_enough(sc, sb, s_better, policy)
    if not allow_changes:
        return Verdict("hold", "changes not allowed (route frozen or instance pinned)", metrics)
    if enough and slice_ok and _good_enough(cand, base, p_better, policy):
        how = "better than" if p_better >= policy.promote_confidence else "not worse than"
        where = " and on its slices" if canary.slices else ""
        reason = f"{v} {how} {b} overall{where}: {_acc(cand)} vs {_acc(base)}, P(better)={p_better:.3f}"
        return Verdict("promote", reason, metrics)
    if cand.n >= policy.max_samples:
        return Verdict("reject", f"{v} undecided after {cand.n} samples (P(better)={p_better:.3f})", metrics)
    last = len(policy.steps) - 1
    if canary.step < last and cand.n - canary.step_n >= policy.step_samples and p_better >= 0.5:
        return Verdict("ramp", f"{v} ramped to {policy.steps[canary.step + 1]:.0%} of its instance", metrics)
    return Verdict("hold", "collecting evidence", metrics)


def _good_enough(cand: Counts, base: Counts, p_better: float, policy: CanaryPolicy) -> bool:
    if p_better >= policy.promote_confidence:
        return True
    return (
        cand.n >= policy.noninferior_samples
        and _greater(cand, base, policy.margin, policy) >= policy.promote_confidence
    )


def _greater(a: Counts, b: Counts, margin: float, policy: CanaryPolicy) -> float:
    """P(accuracy of a > accuracy of b - margin) under their Beta posteriors."""
    return probability_greater(a.posterior, b.posterior, margin=margin, draws=policy.draws)


def _acc(counts: Counts) -> str:
    return f"{counts.correct}/{counts.n}"
