"""Material changes between successive profiles of an instance version, with hysteresis.

``ChangeDetector.update(profile)`` compares a new ``profiles`` record with the state kept for its
``(instance_id, model_version)`` and returns the ``profile.changes`` records it warrants:

- ``slice_appeared`` once a slice has been reported in ``appear_after`` consecutive builds;
- ``slice_resolved`` once an appeared slice has been missing from ``resolve_after`` consecutive
  builds (a slice that never appeared is forgotten as soon as it is missing);
- ``drift`` when the drift state turns to detected (or a later detection time is reported);
  ``rebuilt_after_drift`` says the profile was built from post-drift data only;
- ``error_shift`` when the overall error's interval and the reference interval are disjoint in
  ``shift_after`` consecutive builds (stricter than "the estimate left the reference interval":
  successive windows overlap, so a window's estimate wanders outside the 95 % interval of an
  earlier one far more often than 5 % of the time without anything changing). The reference is
  the first profile's, replaced by any later consistent one (overlapping interval) with more
  events — so an unlucky estimate from a small early window does not stay the reference — and
  by the profile that fired a shift or a drift rebuild.

Slice identity survives small movements of bin edges: a reported slice is the same as a tracked
one when the rows they cover on the instance's window (pass ``frame``) overlap with Jaccard >=
``match``, or when one lies mostly inside the other (overlap coefficient, |A and B| / min(|A|,
|B|), >= ``contain``): with a weak signal the search reports a part of the region in one build
and all of it in the next, and that is the same weakness described more or less precisely.
Without a frame, slices match when they constrain the same features and values and their
intervals overlap with IoU >= ``match`` (open ends are closed at a distance of the largest
bound's size).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from schemas.slices import Slice
from streams.profiling.window import Frame

NAMESPACE = uuid.UUID("6f7d1c2e-5b1a-4c1e-9a54-1d3f2b8e0c11")


@dataclass
class Tracked:
    slice: dict[str, Any]  # the latest Slice record
    present: int = 0  # consecutive builds reporting it
    absent: int = 0  # consecutive builds missing it
    appeared: bool = False


@dataclass
class InstanceState:
    tracked: list[Tracked] = field(default_factory=list)
    reference: dict[str, float] | None = None  # overall error, low, high, events
    shift_streak: int = 0
    drift_detected: bool = False
    drift_ts: int | None = None


class ChangeDetector:
    """Per-instance-version hysteresis over successive profiles; see the module docstring.

    >>> det = ChangeDetector(appear_after=2, resolve_after=2)
    >>> cond = {"feature": "x", "low": 5.0, "high": None, "value": None}
    >>> slice_ = {"predicate": [cond], "description": "x >= 5", "support": 50, "error": 0.5, "error_low": 0.4,
    ...           "error_high": 0.6, "lift": 3.0, "peer_error": 0.1, "hard_for_all": False}
    >>> base = {"instance_id": "i", "route": "r", "model_version": 1, "created_ts": 0, "overall_error": 0.2,
    ...         "overall_error_low": 0.15, "overall_error_high": 0.25, "events": 500,
    ...         "drift": {"detected": False, "detected_ts": None, "detectors": []}}
    >>> kinds = [[c["kind"] for c in det.update(dict(base, profile_version=v, slices=s))]
    ...          for v, s in enumerate([[slice_], [slice_], [slice_], [], [slice_], [], []])]
    >>> kinds
    [[], ['slice_appeared'], [], [], [], [], ['slice_resolved']]
    """

    def __init__(
        self,
        *,
        appear_after: int = 2,
        resolve_after: int = 3,
        shift_after: int = 2,
        match: float = 0.5,
        contain: float = 0.8,
    ):
        self.appear_after = appear_after
        self.resolve_after = resolve_after
        self.shift_after = shift_after
        self.match = match
        self.contain = contain
        self._states: dict[tuple[str, int], InstanceState] = {}

    def state(self, instance_id: str, model_version: int) -> InstanceState | None:
        return self._states.get((instance_id, model_version))

    def forget(self, instance_id: str, model_version: int) -> None:
        self._states.pop((instance_id, model_version), None)

    def update(
        self, profile: Mapping[str, Any], *, frame: Frame | None = None, rebuilt_after_drift: bool = False
    ) -> list[dict[str, Any]]:
        """The ``profile.changes`` records a new profile warrants (state updated)."""
        key = (profile["instance_id"], int(profile["model_version"]))
        state = self._states.setdefault(key, InstanceState())
        changes: list[tuple[str, dict[str, Any] | None, str]] = []
        drift = profile["drift"]
        if drift["detected"] and (not state.drift_detected or drift.get("detected_ts") != state.drift_ts):
            detectors = ", ".join(drift.get("detectors") or []) or "a detector"
            rebuilt = f"; profile rebuilt from {profile['events']} post-drift events" if rebuilt_after_drift else ""
            changes.append(("drift", None, f"drift detected by {detectors}{rebuilt}"))
        state.drift_detected = bool(drift["detected"])
        state.drift_ts = drift.get("detected_ts") if drift["detected"] else state.drift_ts
        if rebuilt_after_drift:
            state.reference, state.shift_streak = None, 0
        shift = self._error_shift(state, profile)
        if shift:
            changes.append(("error_shift", None, shift))
        changes += self._slices(state, profile["slices"], frame)
        return [
            self._record(profile, i, kind, s, detail, rebuilt_after_drift)
            for i, (kind, s, detail) in enumerate(changes)
        ]

    def _error_shift(self, state: InstanceState, profile: Mapping[str, Any]) -> str | None:
        current = {
            "error": float(profile["overall_error"]),
            "low": float(profile["overall_error_low"]),
            "high": float(profile["overall_error_high"]),
            "events": float(profile["events"]),
        }
        ref = state.reference
        if ref is None:
            state.reference = current
            return None
        if current["low"] <= ref["high"] and ref["low"] <= current["high"]:
            state.shift_streak = 0
            if current["events"] > ref["events"]:
                state.reference = current
            return None
        state.shift_streak += 1
        if state.shift_streak < self.shift_after:
            return None
        state.reference, state.shift_streak = current, 0
        return (
            f"overall error {current['error']:.4f} [{current['low']:.4f}, {current['high']:.4f}] apart from "
            f"{ref['error']:.4f} [{ref['low']:.4f}, {ref['high']:.4f}] for {self.shift_after} consecutive builds"
        )

    def _slices(
        self, state: InstanceState, slices: list[dict[str, Any]], frame: Frame | None
    ) -> list[tuple[str, dict[str, Any] | None, str]]:
        similarity = self._similarity([t.slice for t in state.tracked], slices, frame)
        pairs = sorted(
            ((similarity[i, j], i, j) for i in range(len(state.tracked)) for j in range(len(slices))), reverse=True
        )
        matched_t: dict[int, int] = {}
        matched_s: set[int] = set()
        for value, i, j in pairs:
            if value >= 1.0 and i not in matched_t and j not in matched_s:
                matched_t[i] = j
                matched_s.add(j)
        changes: list[tuple[str, dict[str, Any] | None, str]] = []
        kept: list[Tracked] = []
        for i, tracked in enumerate(state.tracked):
            if i in matched_t:
                tracked.slice, tracked.present, tracked.absent = slices[matched_t[i]], tracked.present + 1, 0
                kept.append(tracked)
            elif tracked.appeared:
                tracked.present, tracked.absent = 0, tracked.absent + 1
                if tracked.absent >= self.resolve_after:
                    detail = f"not significant in {tracked.absent} consecutive builds"
                    changes.append(("slice_resolved", tracked.slice, detail))
                else:
                    kept.append(tracked)
        kept += [Tracked(s, present=1) for j, s in enumerate(slices) if j not in matched_s]
        for tracked in kept:
            if not tracked.appeared and tracked.present >= self.appear_after:
                tracked.appeared = True
                s = tracked.slice
                who = "hard for every instance of the route" if s.get("hard_for_all") else "this instance's weakness"
                peer = "" if s.get("peer_error") is None else f", peers {s['peer_error']:.3f}"
                detail = (
                    f"{s['description']}: error {s['error']:.3f} [{s['error_low']:.3f}, {s['error_high']:.3f}]"
                    f"{peer}, lift {s['lift']:.2f}, support {s['support']}; {who}; "
                    f"significant in {tracked.present} consecutive builds"
                )
                changes.append(("slice_appeared", s, detail))
        state.tracked = kept
        return changes

    def _similarity(self, tracked: list[dict[str, Any]], current: list[dict[str, Any]], frame: Frame | None):
        """Pairwise similarity scaled so that >= 1 means "the same slice"."""
        out = np.zeros((len(tracked), len(current)))
        if not tracked or not current:
            return out
        preds_t = [Slice.from_predicate(s["predicate"]) for s in tracked]
        preds_c = [Slice.from_predicate(s["predicate"]) for s in current]
        if frame is not None and len(frame) >= 50:
            masks_c = [p.mask(frame) for p in preds_c]
            for i, p in enumerate(preds_t):
                mask = p.mask(frame)
                out[i] = [max(jaccard(mask, m) / self.match, containment(mask, m) / self.contain) for m in masks_c]
        else:
            for i, p in enumerate(preds_t):
                out[i] = [predicate_overlap(p, q) / self.match for q in preds_c]
        return out

    def _record(
        self, profile: Mapping[str, Any], i: int, kind: str, slice_: dict[str, Any] | None, detail: str, rebuilt: bool
    ) -> dict[str, Any]:
        name = f"{profile['instance_id']}|{profile['model_version']}|{profile['profile_version']}|{kind}|{i}"
        return {
            "change_id": str(uuid.uuid5(NAMESPACE, name)),
            "instance_id": profile["instance_id"],
            "route": profile["route"],
            "model_version": int(profile["model_version"]),
            "profile_version": int(profile["profile_version"]),
            "ts": int(profile["created_ts"]),
            "kind": kind,
            "slice": slice_,
            "rebuilt_after_drift": bool(rebuilt and kind == "drift"),
            "detail": detail,
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-able state (e.g. for a Faust table)."""
        return {f"{k[0]}\x1f{k[1]}": asdict(s) for k, s in self._states.items()}

    def load(self, value: Mapping[str, Any]) -> ChangeDetector:
        """Restore state saved by ``to_dict``; returns self."""
        for name, s in value.items():
            instance, version = name.rsplit("\x1f", 1)
            tracked = [Tracked(**t) for t in s["tracked"]]
            self._states[(instance, int(version))] = InstanceState(**{**s, "tracked": tracked})
        return self


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """|a and b| / |a or b| of two boolean masks (0 when both are empty)."""
    union = int(np.count_nonzero(a | b))
    return int(np.count_nonzero(a & b)) / union if union else 0.0


def containment(a: np.ndarray, b: np.ndarray) -> float:
    """|a and b| / min(|a|, |b|): how much of the smaller mask lies in the other (0 if one is empty)."""
    smaller = min(int(np.count_nonzero(a)), int(np.count_nonzero(b)))
    return int(np.count_nonzero(a & b)) / smaller if smaller else 0.0


def predicate_overlap(a: Slice, b: Slice) -> float:
    """Geometric overlap of two slices: product of per-feature interval IoUs (0 if they differ in kind).

    >>> from schemas.slices import Condition
    >>> p = Slice((Condition("income", low=100000.0),))
    >>> round(predicate_overlap(p, Slice((Condition("income", low=98000.0),))), 2)
    0.98
    """
    if a.features != b.features:
        return 0.0
    total = 1.0
    for ca, cb in zip(a.conditions, b.conditions, strict=True):
        if ca.numeric != cb.numeric or ca.value != cb.value:
            return 0.0
        if not ca.numeric:
            continue
        if (ca.low is None) != (cb.low is None) or (ca.high is None) != (cb.high is None):
            return 0.0
        finite = [v for v in (ca.low, ca.high, cb.low, cb.high) if v is not None]
        if not finite:
            continue
        lo, hi = min(finite), max(finite)
        reach = max(abs(lo), abs(hi), hi - lo) or 1.0
        a_lo, b_lo = (lo - reach if v is None else v for v in (ca.low, cb.low))
        a_hi, b_hi = (hi + reach if v is None else v for v in (ca.high, cb.high))
        inter = max(0.0, min(a_hi, b_hi) - max(a_lo, b_lo))
        union = max(a_hi, b_hi) - min(a_lo, b_lo)
        total *= inter / union if union > 0 else 1.0
    return total
