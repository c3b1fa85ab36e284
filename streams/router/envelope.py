"""What the router decides on: every input as one envelope ``{"k": kind, ...}`` keyed by route.

The router's state is keyed by route, but snapshots and version events are keyed by instance
and commands come on a one-partition topic. Feeder agents turn each decoded input into an
envelope keyed by its route on the router's internal input topic, as compact JSON; the router
agent reads them back with ``parse``. The value ``b"tick"`` (no key) wakes a partition. Joined
events come keyed by route already (the join sends them so); ``joined`` makes their envelope
in the router.

Joined and version envelopes carry ``src``: their source partition (as a tag) and offset, so
the router recognises an input that came again after a restart.

>>> route, body = joined({"route": "credit", "instance_id": "a", "model_version": 2, "correct": True,
...                       "features": {"x": 1.0}, "attributes": {}}, source=(3, 41))
>>> route, body["k"], body["correct"], body["src"]
('credit', 'joined', True, ['r3', 41])
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from infra.commands import millis
from schemas.slices import Slice
from streams.router.transitions import OWN_EVENTS, STATUSES
from streams.validation import InvalidEvent

TICK = b"tick"
KINDS = frozenset({"joined", "snapshot", "version", "command"})

Source = tuple[int, int]


def joined(record: Mapping[str, Any], source: Source) -> tuple[str, dict[str, Any]]:
    """A joined event: what the router counts (and the features its target slices test).
    ``source``: its position on the joined events keyed by route."""
    body = {
        "k": "joined",
        "instance_id": record["instance_id"],
        "model_version": record["model_version"],
        "correct": bool(record["correct"]),
        "features": record.get("features", {}),
        "attributes": record.get("attributes", {}),
        "src": [f"r{source[0]}", source[1]],
    }
    return _route(record), body


def snapshot(record: Mapping[str, Any], source: Source) -> tuple[str, bytes] | None:
    """A ``version`` window snapshot (cumulative per version); other windows are not forwarded."""
    if record["window"] != "version":
        return None
    body = {
        "k": "snapshot",
        "instance_id": record["instance_id"],
        "model_version": record["model_version"],
        "labelled": record["labelled"],
        "accuracy": record["accuracy"],
        "snapshot_ms": millis(record["snapshot_ts"]),
    }
    return _route(record), _dump(body)


def version(record: Mapping[str, Any], source: Source) -> tuple[str, bytes] | None:
    """A ``model.versions`` event; its status must be one the router knows and a candidate's target
    slices must be slices (its canary counts on them). The router's own are skipped."""
    if str(record.get("event_id", "")).startswith(OWN_EVENTS):
        return None
    what = f"{record['instance_id']} v{record['version']}"
    if record["status"] not in STATUSES:
        detail = f"status {record['status']!r} of {what} is not one of {sorted(STATUSES)}"
        raise InvalidEvent(reason="schema_violation", detail=detail)
    if record["status"] == "candidate":
        try:
            for target in record.get("target_slices") or []:
                Slice.from_record(target)
        except ValueError as exc:
            raise InvalidEvent(reason="schema_violation", detail=f"target slice of {what}: {exc}") from None
    body = {"k": "version", **{k: _plain(v) for k, v in record.items()}, "src": [f"m{source[0]}", source[1]]}
    return _route(record), _dump(body)


def command(
    record: Mapping[str, Any],
    *,
    until_ms: int,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
) -> bytes:
    """An authenticated command, with where it came from (a later rejection dead-letters the original)
    and until when its id must be remembered (``until_ms``: after that it is stale anyway)."""
    body = {
        "k": "command",
        "command": {k: _plain(v) for k, v in record.items()},
        "until_ms": until_ms,
        "source": {"topic": topic, "partition": partition, "offset": offset, "key": _b64(key), "value": _b64(value)},
    }
    return _dump(body)


def parse(data: bytes) -> dict[str, Any]:
    """An envelope back; ``ValueError`` if it is not one."""
    try:
        body = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        msg = f"router envelope is not JSON: {exc}"
        raise ValueError(msg) from exc
    if not isinstance(body, dict) or body.get("k") not in KINDS:
        msg = f"router envelope has no known kind: {str(body)[:200]}"
        raise ValueError(msg)
    return body


def unb64(text: str | None) -> bytes | None:
    return None if text is None else base64.b64decode(text)


def _route(record: Mapping[str, Any]) -> str:
    route = str(record.get("route") or "").strip()
    if not route:
        raise InvalidEvent(reason="schema_violation", detail=f"field 'route' is empty ({record.get('instance_id')})")
    return route


def _plain(value: Any) -> Any:
    return millis(value) if isinstance(value, datetime) else value


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


def _dump(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":"), allow_nan=False).encode("utf-8")
