"""Peer comparison: weakness, hard for all, undecided; the ranking puts weaknesses first."""

from __future__ import annotations

import numpy as np

from schemas.slices import Condition, Slice
from streams.profiling.peers import compare_with_peers
from streams.profiling.slices import FoundSlice
from streams.profiling.window import Frame


def found(feature: str, support: int, errors: int, score: float) -> FoundSlice:
    return FoundSlice(Slice.of([Condition(feature, low=0.5)]), support, errors, errors / support, 0, 0, 0, score, 0)


def with_wilson(s: FoundSlice) -> FoundSlice:
    from streams.profiling.stats import wilson

    low, high = wilson(s.errors, s.support)
    return FoundSlice(s.predicate, s.support, s.errors, s.error, float(low), float(high), s.lift, s.score, s.p_value)


def peers_frame(n: int, error_in: dict[str, float], base: float = 0.05) -> Frame:
    rng = np.random.default_rng(0)
    numeric = {f: rng.random(n) for f in ("weak", "hard", "rare")}
    numeric["rare"] = np.where(rng.random(n) < 0.003, 0.9, 0.1)  # peers almost never there
    rate = np.full(n, base)
    for feature, error in error_in.items():
        rate = np.where(numeric[feature] >= 0.5, error, rate)
    wrong = rng.random(n) < rate
    labels = np.array(["a"] * n, dtype=object)
    return Frame(numeric, {}, labels, labels, ~wrong, np.zeros(n, np.int64))


def test_weakness_hard_for_all_and_undecided_are_told_apart_and_ranked():
    peers = peers_frame(4000, {"hard": 0.6})
    slices = [
        with_wilson(found("hard", 300, 185, score=5.0)),  # peers err there as much: hard for all
        with_wilson(found("weak", 300, 240, score=3.0)),  # peers at 5 %: a weakness
        with_wilson(found("rare", 40, 30, score=4.0)),  # too few peer events to judge
    ]
    ranked = compare_with_peers(slices, peers)
    by_feature = {r.found.predicate.features[0]: r for r in ranked}
    assert by_feature["weak"].weakness and not by_feature["weak"].hard_for_all
    assert by_feature["hard"].hard_for_all and not by_feature["hard"].weakness
    assert by_feature["hard"].peer_error > 0.5
    assert not by_feature["rare"].weakness and not by_feature["rare"].hard_for_all
    assert [r.found.predicate.features[0] for r in ranked] == ["weak", "rare", "hard"]
    record = by_feature["hard"].to_record()
    assert record["hard_for_all"] is True and record["description"] == "hard >= 0.5"


def test_without_peers_slices_keep_their_order_and_have_no_peer_error():
    slices = [found("weak", 100, 50, 1.0), found("hard", 100, 60, 2.0)]
    ranked = compare_with_peers(slices, None)
    assert [r.found.score for r in ranked] == [2.0, 1.0]
    assert all(r.peer_error is None and not r.hard_for_all and not r.weakness for r in ranked)
    assert compare_with_peers(slices, Frame.concat([]))[0].peer_error is None


def test_an_instance_only_slightly_worse_than_peers_is_not_a_weakness():
    peers = peers_frame(4000, {"hard": 0.55})
    ranked = compare_with_peers([with_wilson(found("hard", 150, 96, 1.0))], peers)  # 0.64 vs 0.55
    assert not ranked[0].weakness and ranked[0].hard_for_all
