"""The join of inference and feedback halves by request id, as pure state transitions.

A request's state lives in a table keyed by request id (JSON-able dict):

- ``{"inference": {...}, "io": offset, "deadline": ms, "p": partition}``: waiting for its label;
- ``{"feedback": {...}, "fo": offset, "deadline": ms, "p": partition}``: a label waiting for its inference;
- ``{"joined": {...}, "by": half, "io": offset, "fo": offset, "deadline": ms, "p": partition}``: done,
  remembered until the deadline so that late duplicates of either half are recognised.

Each half's input offset is kept so that a message replayed after a crash (same offset) is told
apart from a genuine duplicate (another offset): a replay is never a dead letter, and a replayed
half that completed the join emits the joined record again, because its first emission belonged
to a transaction that did not commit. Timestamps inside the state are epoch milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

State = dict[str, Any]


@dataclass
class Outcome:
    """What handling one half (or an expiry) produced."""

    state: State | None
    joined: dict[str, Any] | None = None
    rejected: tuple[str, str] | None = None  # (reason, detail) for the message being handled
    unlabelled: dict[str, Any] | None = None  # an inference whose label never came
    orphan: dict[str, Any] | None = None  # a label whose inference never came
    notes: list[str] = field(default_factory=list)


def to_millis(value: datetime | int) -> int:
    return value if isinstance(value, int) else int(value.timestamp() * 1000)


def on_inference(
    state: State | None, event: dict[str, Any], *, now_ms: int, ttl_ms: int, partition: int, offset: int = -1
) -> Outcome:
    """An inference half arrived.

    >>> inf = {"request_id": "r", "route": "x", "instance_id": "i", "model_version": 1, "ts": 0,
    ...        "features": {}, "attributes": {}, "prediction": "a", "probabilities": {}}
    >>> waiting = on_inference(None, inf, now_ms=0, ttl_ms=10, partition=0, offset=7).state
    >>> label = {"request_id": "r", "label": "a", "ts": 5}
    >>> on_feedback(waiting, label, now_ms=5, ttl_ms=10, partition=0, offset=9).joined["correct"]
    True
    """
    return _arrive("inference", state, dict(event, ts=to_millis(event["ts"])), now_ms, ttl_ms, partition, offset)


def on_feedback(
    state: State | None, event: dict[str, Any], *, now_ms: int, ttl_ms: int, partition: int, offset: int = -1
) -> Outcome:
    """A feedback half arrived (before or after its inference)."""
    return _arrive("feedback", state, dict(event, ts=to_millis(event["ts"])), now_ms, ttl_ms, partition, offset)


def _arrive(
    half: str, state: State | None, stored: dict[str, Any], now_ms: int, ttl_ms: int, partition: int, offset: int
) -> Outcome:
    mark = "io" if half == "inference" else "fo"
    if state is None:
        return Outcome({half: stored, mark: offset, "deadline": now_ms + ttl_ms, "p": partition})
    if offset >= 0 and state.get(mark) == offset:  # the same message again: a replay after a crash
        if "joined" in state and state.get("by") == half:
            return Outcome(state, joined=state["joined"])
        return Outcome(state)
    if mark in state:
        return Outcome(state, rejected=("duplicate", _duplicate_detail(half, stored, state)))
    other = "feedback" if half == "inference" else "inference"
    pair = {half: stored, other: state[other]}
    joined = join(pair["inference"], pair["feedback"])
    done = {
        "joined": joined,
        "by": half,
        "io": state.get("io", offset) if half == "feedback" else offset,
        "fo": state.get("fo", offset) if half == "inference" else offset,
        "deadline": now_ms + ttl_ms,
        "p": partition,
    }
    return Outcome(done, joined=joined)


def on_expiry(state: State, *, now_ms: int) -> Outcome:
    """The state's deadline passed: a waiting inference is unlabelled, a waiting label an orphan."""
    if state["deadline"] > now_ms:
        return Outcome(state)
    if "inference" in state:
        return Outcome(None, unlabelled=state["inference"])
    if "feedback" in state:
        return Outcome(None, orphan=state["feedback"])
    return Outcome(None)


def join(inference: dict[str, Any], feedback: dict[str, Any]) -> dict[str, Any]:
    """A ``joined.events`` record (timestamps as epoch ms, which the Avro writer accepts)."""
    return {
        "request_id": inference["request_id"],
        "route": inference["route"],
        "instance_id": inference["instance_id"],
        "model_version": inference["model_version"],
        "inference_ts": inference["ts"],
        "feedback_ts": feedback["ts"],
        "features": inference["features"],
        "attributes": inference.get("attributes", {}),
        "prediction": inference["prediction"],
        "probabilities": inference.get("probabilities", {}),
        "label": feedback["label"],
        "correct": inference["prediction"] == feedback["label"],
    }


def _duplicate_detail(half: str, event: dict[str, Any], state: State) -> str:
    where = "already joined" if "joined" in state else f"{half} already waiting"
    return f"duplicate {half} for request {event['request_id']} ({where})"
