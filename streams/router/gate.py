"""The command gate: shape, signature, freshness and replay checks before a command reaches a route.

Signatures are checked against the HMAC secrets and the operators' public keys file (re-read
when it changes; while it is broken every command is refused, ``keys_unavailable``). Seen
command ids live in a changelog-backed table (``seen``) until their command would be
stale anyway (issue time + max age + max skew), so replays are caught across restarts and
whichever worker owns the commands partition. An id is remembered only after the signature
checks out: a forged command cannot burn the id of a genuine one. Each id keeps the offset of
the message that brought it: the same message processed again after a restart (at-least-once
delivery) passes, the same command in another message is a replay.

>>> from datetime import UTC, datetime, timedelta
>>> from infra.commands import new_command, sign, target
>>> now = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
>>> cmd = sign(new_command("freeze", [target("route", "credit")], issuer="ops", issued=now), "k" * 16, "k1")
>>> gate = CommandGate({"k1": b"k" * 16}, max_age=timedelta(minutes=5), max_skew=timedelta(seconds=30))
>>> seen = {}
>>> gate.check(cmd, seen, now=now, offset=7) is None, gate.check(cmd, seen, now=now, offset=7) is None
(True, True)
>>> gate.check(cmd, seen, now=now, offset=8).reason
'replayed'
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from datetime import datetime, timedelta
from typing import Any

from infra.commands import KEYS_UNAVAILABLE, REPLAYED, Rejection, VerifyingKey, check_shape, millis, verify
from infra.operator_keys import OperatorKeyError, PublicKeysFile


class CommandGate:
    """Checks commands against HMAC secrets, the operators' public keys and a table of seen ids."""

    def __init__(
        self,
        keys: Mapping[str, bytes],
        *,
        max_age: timedelta,
        max_skew: timedelta,
        public_keys: PublicKeysFile | None = None,
    ) -> None:
        self.keys = keys
        self.public_keys = public_keys
        self.max_age = max_age
        self.max_skew = max_skew

    def check(
        self, command: Mapping[str, Any], seen: MutableMapping[str, Any], *, now: datetime, offset: int = -1
    ) -> Rejection | None:
        """``None`` and the id remembered if ``command`` (at ``offset`` of ``commands``) may proceed; else why not."""
        rejection = check_shape(command) or self.verify(command, now)
        if rejection is not None:
            return rejection
        now_ms = millis(now)
        self.forget_expired(seen, now_ms)
        command_id = command["command_id"]
        before = seen.get(command_id)
        if before is not None:
            if offset >= 0 and before.get("offset") == offset:
                return None  # this very message again (a restart before its offset was committed)
            return Rejection(REPLAYED, f"command {command_id!r} from {command['issuer']!r} was already received")
        seen[command_id] = {"until": self.until_ms(command), "offset": offset}
        return None

    def verify(self, command: Mapping[str, Any], now: datetime) -> Rejection | None:
        """``None`` if ``command`` is signed with a key accepted now, and fresh."""
        try:
            operators, revoked = self.public_keys.current() if self.public_keys else ({}, frozenset())
        except OperatorKeyError as exc:
            return Rejection(KEYS_UNAVAILABLE, f"command {command.get('command_id')!r} not checked: {exc}")
        both = sorted(operators.keys() & self.keys.keys())
        if both:
            detail = f"key ids {both} name both an HMAC key and an operator key; every command is refused"
            return Rejection(KEYS_UNAVAILABLE, detail)
        keys: dict[str, VerifyingKey] = {**self.keys, **operators}
        return verify(command, keys, now=now, revoked=revoked, max_age=self.max_age, max_skew=self.max_skew)

    def until_ms(self, command: Mapping[str, Any]) -> int:
        """When ``command`` is stale for sure: its id need not be remembered longer."""
        return millis(command["issued_ts"]) + (self.max_age + self.max_skew) // timedelta(milliseconds=1)

    @staticmethod
    def forget_expired(seen: MutableMapping[str, Any], now_ms: int) -> int:
        """Drop ids whose commands are stale by now; returns how many."""
        expired = [k for k, entry in list(seen.items()) if entry is None or entry["until"] < now_ms]
        for key in expired:
            seen.pop(key, None)
        return len(expired)
