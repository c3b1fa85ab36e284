"""Route configuration: which routes exist and which of their fields are personal data."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

PiiAction = Literal["drop", "hash"]


@dataclass(frozen=True)
class RouteConfig:
    """One route: its personal-data fields (feature or attribute names) and what to do with each."""

    name: str
    personal: dict[str, PiiAction] = field(default_factory=dict)


class RouteCatalog:
    """Known routes. Without a routes file every route is accepted and nothing is treated as personal.

    The file is JSON: ``{"routes": {"credit": {"personal": {"email": "drop", "customer_id": "hash"}}}}``.

    >>> catalog = RouteCatalog({"credit": RouteConfig("credit", {"email": "drop", "cid": "hash"})}, salt=b"s")
    >>> catalog.knows("credit"), catalog.knows("fraud")
    (True, False)
    >>> catalog.anonymise("credit", {"email": "a@b", "cid": "42", "region": "north"})["region"]
    'north'
    """

    def __init__(self, routes: dict[str, RouteConfig] | None, salt: bytes = b"") -> None:
        self._routes = routes
        self._salt = salt

    @classmethod
    def load(cls, path: str | None, salt: bytes = b"") -> RouteCatalog:
        if path is None:
            return cls(None, salt)
        try:
            raw = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            msg = f"cannot read the routes file {path}: {exc}"
            raise ValueError(msg) from exc
        routes = {}
        for name, spec in (raw.get("routes") or {}).items():
            personal = dict((spec or {}).get("personal") or {})
            bad = {k: v for k, v in personal.items() if v not in ("drop", "hash")}
            if bad:
                msg = f"routes file {path}: route {name!r}: personal fields must map to 'drop' or 'hash', got {bad}"
                raise ValueError(msg)
            routes[name] = RouteConfig(name, personal)
        return cls(routes, salt)

    def knows(self, route: str) -> bool:
        return self._routes is None or route in self._routes

    def anonymise(self, route: str, values: dict[str, Any]) -> dict[str, Any]:
        """``values`` with the route's personal fields dropped or replaced by a keyed hash."""
        config = (self._routes or {}).get(route)
        if config is None or not config.personal:
            return values
        out = {}
        for name, value in values.items():
            action = config.personal.get(name)
            if action == "drop":
                continue
            out[name] = self._hash(value) if action == "hash" else value
        return out

    def _hash(self, value: Any) -> Any:
        digest = hmac.new(self._salt, str(value).encode(), hashlib.sha256).hexdigest()[:16]
        # A hashed numeric feature must stay numeric to fit the schema's map of doubles.
        return float(int(digest[:13], 16)) if isinstance(value, int | float) else digest
