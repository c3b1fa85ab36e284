"""Checks a decoded input event must pass before it is joined; each failure is a dead-letter reason."""

from __future__ import annotations

import math
from typing import Any

from streams.routes import RouteCatalog


class InvalidEvent(Exception):
    """An event that decodes but must not be processed; ``reason`` is the dead-letter reason."""

    def __init__(self, *, reason: str, detail: str) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}")


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
