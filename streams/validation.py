"""Checks a decoded input event must pass before it is joined; each failure is a dead-letter reason."""

from __future__ import annotations

import math
from typing import Any

from schemas import Rejected
from schemas.limits import clip
from streams.routes import RouteCatalog


class InvalidEvent(Rejected):
    """An event that decodes but must not be processed; ``reason`` is the dead-letter reason."""

    def __init__(self, *, reason: str, detail: str) -> None:
        super().__init__(detail, reason=reason)


def check_key(event: dict[str, Any], key: bytes | None) -> None:
    """The key of an inference or feedback event must be its request id, as UTF-8.

    Both halves of a request are joined in the partition their key chose; a half keyed
    otherwise (or not at all) lands in a partition where its other half never arrives.

    >>> check_key({"request_id": "r1"}, b"r2")
    Traceback (most recent call last):
    ...
    streams.validation.InvalidEvent: key_mismatch: key 'r2' is not the request_id 'r1'; ...
    """
    expected = event["request_id"].encode("utf-8")
    if key == expected:
        return
    why = "inference and feedback events must be keyed by their request_id, so both halves reach one partition"
    if key is None:
        detail = f"no key (request_id {clip(event['request_id'])!r}); {why}"
        raise InvalidEvent(reason="missing_key", detail=detail)
    shown = clip(key.decode("utf-8", "replace"))
    raise InvalidEvent(
        reason="key_mismatch", detail=f"key {shown!r} is not the request_id {clip(event['request_id'])!r}; {why}"
    )


def check_inference(event: dict[str, Any], routes: RouteCatalog) -> None:
    """Raise ``InvalidEvent`` for non-finite features, empty ids or an unknown route.

    >>> check_inference({"request_id": "r", "route": "x", "instance_id": "i", "features": {"a": float("nan")}},
    ...                 RouteCatalog(None))
    Traceback (most recent call last):
    ...
    streams.validation.InvalidEvent: non_finite_feature: feature 'a' is nan (request r, instance i)
    """
    for name in ("request_id", "instance_id", "route", "prediction"):
        if name in event and not str(event[name]).strip():
            raise InvalidEvent(reason="schema_violation", detail=f"field '{name}' is empty")
    for name, value in event["features"].items():
        if not math.isfinite(value):
            msg = f"feature '{name}' is {value} (request {event['request_id']}, instance {event['instance_id']})"
            raise InvalidEvent(reason="non_finite_feature", detail=msg)
    for label, value in event.get("probabilities", {}).items():
        if not math.isfinite(value):
            raise InvalidEvent(reason="non_finite_feature", detail=f"probability of '{label}' is {value}")
    if not routes.knows(event["route"]):
        raise InvalidEvent(reason="unknown_route", detail=f"route '{event['route']}' is not in the routes file")


def check_feedback(event: dict[str, Any]) -> None:
    for name in ("request_id", "label"):
        if not str(event[name]).strip():
            raise InvalidEvent(reason="schema_violation", detail=f"field '{name}' is empty")
