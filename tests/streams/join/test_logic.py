"""The join's state transitions, without a broker."""

from __future__ import annotations

from streams.join.logic import on_expiry, on_feedback, on_inference

INFERENCE = {
    "request_id": "r1",
    "route": "credit",
    "instance_id": "a",
    "model_version": 2,
    "ts": 1_000,
    "features": {"x": 1.0},
    "attributes": {},
    "prediction": "yes",
    "probabilities": {},
}
FEEDBACK = {"request_id": "r1", "label": "no", "ts": 5_000}


def test_feedback_after_inference_joins():
    waiting = on_inference(None, INFERENCE, now_ms=10, ttl_ms=100, partition=3)
    assert waiting.joined is None and waiting.state["deadline"] == 110 and waiting.state["p"] == 3
    done = on_feedback(waiting.state, FEEDBACK, now_ms=20, ttl_ms=100, partition=3)
    assert done.joined["label"] == "no" and done.joined["correct"] is False
    assert done.joined["inference_ts"] == 1_000 and done.joined["feedback_ts"] == 5_000
    assert done.state["joined"] == done.joined and done.state["deadline"] == 120 and done.state["p"] == 3


def test_feedback_before_inference_joins():
    waiting = on_feedback(None, FEEDBACK, now_ms=10, ttl_ms=100, partition=0)
    done = on_inference(waiting.state, INFERENCE, now_ms=30, ttl_ms=100, partition=0)
    assert done.joined is not None and done.joined["prediction"] == "yes"


def test_duplicates_of_either_half_are_rejected_before_and_after_the_join():
    waiting = on_inference(None, INFERENCE, now_ms=0, ttl_ms=100, partition=0, offset=1).state
    again = on_inference(waiting, INFERENCE, now_ms=1, ttl_ms=100, partition=0, offset=2)
    assert again.rejected[0] == "duplicate" and again.state is waiting
    done = on_feedback(waiting, FEEDBACK, now_ms=2, ttl_ms=100, partition=0, offset=5).state
    for outcome in (
        on_feedback(done, FEEDBACK, now_ms=3, ttl_ms=100, partition=0, offset=6),
        on_inference(done, INFERENCE, now_ms=3, ttl_ms=100, partition=0, offset=3),
    ):
        assert outcome.rejected[0] == "duplicate" and "already joined" in outcome.rejected[1]
        assert outcome.joined is None


def test_expiry_makes_inference_unlabelled_and_feedback_orphan():
    waiting = on_inference(None, INFERENCE, now_ms=0, ttl_ms=100, partition=0).state
    assert on_expiry(waiting, now_ms=99).state is waiting
    expired = on_expiry(waiting, now_ms=100)
    assert expired.state is None and expired.unlabelled["request_id"] == "r1"
    label = on_feedback(None, FEEDBACK, now_ms=0, ttl_ms=100, partition=0).state
    orphan = on_expiry(label, now_ms=500)
    assert orphan.state is None and orphan.orphan["label"] == "no" and orphan.unlabelled is None


def test_a_joined_marker_expires_silently():
    waiting = on_inference(None, INFERENCE, now_ms=0, ttl_ms=100, partition=0).state
    done = on_feedback(waiting, FEEDBACK, now_ms=50, ttl_ms=100, partition=0).state
    expired = on_expiry(done, now_ms=150)
    assert expired.state is None and expired.unlabelled is None and expired.orphan is None


def test_a_replayed_half_is_not_a_duplicate_and_a_replayed_completion_joins_again():
    waiting = on_inference(None, INFERENCE, now_ms=0, ttl_ms=100, partition=0, offset=10).state
    replay = on_inference(waiting, INFERENCE, now_ms=1, ttl_ms=100, partition=0, offset=10)
    assert replay.rejected is None and replay.joined is None and replay.state is waiting
    done = on_feedback(waiting, FEEDBACK, now_ms=2, ttl_ms=100, partition=0, offset=20)
    # The completing half replayed: its first joined record was in an aborted transaction.
    again = on_feedback(done.state, FEEDBACK, now_ms=3, ttl_ms=100, partition=0, offset=20)
    assert again.rejected is None and again.joined == done.joined
    # The first half replayed after the join: nothing to do.
    first = on_inference(done.state, INFERENCE, now_ms=3, ttl_ms=100, partition=0, offset=10)
    assert first.rejected is None and first.joined is None
