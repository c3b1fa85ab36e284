"""Change detection: hysteresis, slice identity under edge movement, drift, error shifts, state."""

from __future__ import annotations

import json

import numpy as np
import pytest

from schemas import Serde
from schemas.slices import Condition, Slice
from streams.profiling.changes import ChangeDetector, containment, jaccard, predicate_overlap
from tests.streams.profiling import simulate as sim


def slice_record(predicate: Slice, **extra) -> dict:
    return {
        "predicate": predicate.to_predicate(),
        "description": predicate.describe(),
        "support": 100,
        "error": 0.8,
        "error_low": 0.7,
        "error_high": 0.9,
        "lift": 4.0,
        "peer_error": 0.05,
        "hard_for_all": False,
    } | extra


def box(age_low: float = 25.0, age_high: float = 45.0, income: float = 100_000.0) -> Slice:
    return Slice.of([Condition("age", age_low, age_high), Condition("income", low=income)])


def profile(
    version: int, slices: list[dict], *, error: float = 0.2, half: float = 0.02, events: int = 2000, drift=None
):
    return {
        "instance_id": "a",
        "route": "credit",
        "model_version": 1,
        "profile_version": version,
        "created_ts": 1000 * version,
        "events": events,
        "overall_error": error,
        "overall_error_low": error - half,
        "overall_error_high": error + half,
        "slices": slices,
        "drift": drift or {"detected": False, "detected_ts": None, "detectors": []},
    }


@pytest.fixture(scope="module")
def frame():
    return sim.uniform_frame(np.random.default_rng(0), 5000)[0]


def kinds(changes: list[dict]) -> list[str]:
    return [c["kind"] for c in changes]


def test_a_stable_slice_with_moving_edges_appears_exactly_once(frame):
    detector = ChangeDetector()
    rng = np.random.default_rng(1)
    emitted = []
    for version in range(1, 30):
        jitter = rng.normal(0, 1.0, 3)
        predicate = box(25 + jitter[0], 45 + jitter[1], 100_000 + 3000 * jitter[2])
        emitted += detector.update(profile(version, [slice_record(predicate)]), frame=frame)
    assert kinds(emitted) == ["slice_appeared"]
    assert emitted[0]["profile_version"] == 2 and "weakness" in emitted[0]["detail"]


def test_a_slice_seen_once_never_appears_and_flapping_does_not_resolve(frame):
    detector = ChangeDetector(appear_after=2, resolve_after=3)
    s = slice_record(box())
    sequence = [[s], [], [s], [s], [], [], [s], [], [], []]
    out = [kinds(detector.update(profile(v, slices), frame=frame)) for v, slices in enumerate(sequence, 1)]
    assert out == [[], [], [], ["slice_appeared"], [], [], [], [], [], ["slice_resolved"]]


def test_different_regions_are_different_slices(frame):
    detector = ChangeDetector(appear_after=1)
    first = detector.update(profile(1, [slice_record(box())]), frame=frame)
    other = Slice.of([Condition("age", low=60.0), Condition("region", value="east")])
    second = detector.update(profile(2, [slice_record(box()), slice_record(other)]), frame=frame)
    assert kinds(first) == ["slice_appeared"] and kinds(second) == ["slice_appeared"]
    assert second[0]["slice"]["description"] == other.describe()


def test_geometric_matching_without_a_frame():
    assert predicate_overlap(box(), box(25.5, 44.0, 98_000.0)) > 0.8
    assert predicate_overlap(box(), box(50.0, 70.0)) == 0.0
    assert predicate_overlap(box(), Slice.of([Condition("age", 25.0, 45.0)])) == 0.0
    detector = ChangeDetector()
    out = [kinds(detector.update(profile(v, [slice_record(box(25 + v / 10))]))) for v in range(1, 6)]
    assert out == [[], ["slice_appeared"], [], [], []]


def test_drift_change_says_whether_the_profile_was_rebuilt():
    detector = ChangeDetector()
    detector.update(profile(1, []))
    drift = {"detected": True, "detected_ts": 5, "detectors": ["adwin:error"]}
    (change,) = detector.update(profile(2, [], drift=drift, events=300), rebuilt_after_drift=True)
    assert change["kind"] == "drift" and change["rebuilt_after_drift"] is True
    assert "adwin:error" in change["detail"] and "300 post-drift events" in change["detail"]
    assert detector.update(profile(3, [], drift=drift)) == []  # the same detection is not reported twice
    later = dict(drift, detected_ts=9)
    (again,) = detector.update(profile(4, [], drift=later))
    assert again["kind"] == "drift" and again["rebuilt_after_drift"] is False


def test_error_shift_needs_consecutive_disjoint_intervals():
    detector = ChangeDetector(shift_after=2)
    errors = [0.20, 0.21, 0.19, 0.26, 0.20, 0.26, 0.27, 0.27, 0.27]
    out = [kinds(detector.update(profile(v, [], error=e))) for v, e in enumerate(errors, 1)]
    assert out == [[], [], [], [], [], [], ["error_shift"], [], []]


def test_changes_are_schema_valid_with_stable_ids_and_state_round_trips(frame):
    serde = Serde()
    detector = ChangeDetector(appear_after=1)
    changes = detector.update(profile(1, [slice_record(box())]), frame=frame)
    for change in changes:
        serde.encode("profile.changes", change)
    assert (
        changes[0]["change_id"]
        == ChangeDetector(appear_after=1).update(profile(1, [slice_record(box())]))[0]["change_id"]
    )
    restored = ChangeDetector(appear_after=1).load(json.loads(json.dumps(detector.to_dict())))
    assert restored.update(profile(2, [slice_record(box())]), frame=frame) == []
    assert restored.state("a", 1).tracked[0].appeared


def test_a_part_of_a_tracked_slice_is_the_same_slice(frame):
    detector = ChangeDetector()
    part = Slice.of([Condition("age", 30.0, 40.0), Condition("income", low=120_000.0)])  # inside box(), Jaccard < 0.5
    sequence = [box(), box(), part, box(), part, box()]
    out = [kinds(detector.update(profile(v, [slice_record(p)]), frame=frame)) for v, p in enumerate(sequence, 1)]
    assert out == [[], ["slice_appeared"], [], [], [], []]


def test_jaccard():
    a = np.array([True, True, False, False])
    b = np.array([False, True, True, False])
    assert jaccard(a, b) == 1 / 3 and jaccard(a, a) == 1.0 and jaccard(~(a | b), np.zeros(4, bool)) == 0.0
    assert jaccard(np.zeros(2, bool), np.zeros(2, bool)) == 0.0
    assert containment(a, a & b) == 1.0 and containment(a, np.zeros(4, bool)) == 0.0
