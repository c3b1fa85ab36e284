"""Envelopes on the router's input topic."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from schemas import Serde
from streams.router import envelope
from streams.validation import InvalidEvent
from tests.samples import SAMPLES


def test_every_input_round_trips_keyed_by_its_route():
    serde = Serde()
    joined = serde.from_json("joined.events", SAMPLES["joined.events"])
    route, body = envelope.joined(joined, (1, 9))
    assert route == "credit" and body["correct"] is False and body["src"] == ["r1", 9]
    snapshot = serde.from_json("metrics.snapshots", {**SAMPLES["metrics.snapshots"], "window": "version"})
    route, data = envelope.snapshot(snapshot, (0, 1))
    assert envelope.parse(data)["snapshot_ms"] == 1795514400000
    assert envelope.snapshot(serde.from_json("metrics.snapshots", SAMPLES["metrics.snapshots"]), (0, 2)) is None
    version = serde.from_json("model.versions", SAMPLES["model.versions"])
    assert envelope.parse(envelope.version(version, (2, 5))[1])["status"] == "candidate"
    command = serde.from_json("commands", SAMPLES["commands"])
    data = envelope.command(command, until_ms=1, topic="t", partition=0, offset=5, key=b"k", value=b"\x00v")
    body = envelope.parse(data)
    assert body["command"]["issued_ts"] == 1795514400000 and envelope.unb64(body["source"]["value"]) == b"\x00v"


def test_bad_inputs():
    with pytest.raises(InvalidEvent, match="status 'shipped'"):
        envelope.version({"status": "shipped", "instance_id": "a", "version": 1, "route": "r"}, (0, 1))
    with pytest.raises(InvalidEvent, match="'route' is empty"):
        envelope.joined({"route": " ", "instance_id": "a", "model_version": 1, "correct": True}, (0, 1))
    with pytest.raises(ValueError, match="not JSON"):
        envelope.parse(b"\xff")
    with pytest.raises(ValueError, match="no known kind"):
        envelope.parse(b'{"k": "other"}')
    promoted = {
        "status": "promoted",
        "instance_id": "a",
        "version": 1,
        "route": "r",
        "ts": datetime(2026, 1, 1, tzinfo=UTC),
    }
    body = envelope.parse(envelope.version(promoted, (4, 12))[1])
    assert body["ts"] == 1767225600000 and body["src"] == ["m4", 12]


def test_a_candidate_whose_target_slice_is_no_slice_is_refused():
    nan = {"description": "young", "predicate": [{"feature": "age", "low": float("nan"), "high": 30.0}]}
    candidate = {"status": "candidate", "instance_id": "a", "version": 2, "route": "r", "target_slices": [nan]}
    with pytest.raises(InvalidEvent, match="target slice of a v2: slice 'young': a bound of 'age' is NaN"):
        envelope.version(candidate, (0, 1))


def test_the_routers_own_version_events_are_not_read_back():
    own = {"event_id": "router-credit-a-v2-promoted-1", "status": "promoted", "instance_id": "a", "version": 2}
    assert envelope.version({**own, "route": "credit"}, (0, 1)) is None
