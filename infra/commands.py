"""Operator commands: build, sign and verify them (Ed25519 or HMAC-SHA256 over a canonical encoding).

A command is a record of the ``commands`` topic (``schemas/avro/commands.v1.avsc``). Any
service can send one; the router accepts it only if it is signed with a known key, fresh
and never seen before.

Signing recipe (any language)
-----------------------------

1. Take the command's fields except ``signature``: ``action``, ``command_id``, ``issued_ts``
   (epoch **milliseconds**, an integer), ``issuer``, ``key_id``, ``reason`` and ``targets``
   (a list, in order, of objects with exactly ``kind``, ``name`` and ``version`` — ``null``
   when absent).
2. Serialise them as JSON with keys sorted at every level, no whitespace
   (``","`` and ``":"`` separators), non-ASCII characters as UTF-8 (not ``\\u`` escapes);
   encode as UTF-8. Only strings, integers and null occur, so this is also RFC 8785 (JCS).
3. Prefix the bytes with ``insitu-command-v1`` and a newline (domain separation).
4. ``signature`` = lowercase hex of either
   - the Ed25519 signature (64 bytes, RFC 8032) of the prefixed bytes with the operator's
     private key (``INSITU_COMMAND_PRIVATE_KEY_FILE``; ``infra.operator_keys``), or
   - HMAC-SHA256(key, prefixed bytes), where the key is the UTF-8 bytes of a shared
     ``INSITU_COMMAND_KEY``;
   and put the key's id in ``key_id``.

Ed25519 is the one to use: verifiers hold public keys only, and a command's ``issuer`` must be
the operator who owns the key. A shared HMAC key stays available for existing set-ups, but
anything that can verify with it can also sign, and its ``issuer`` is only self-declared.

The router rejects a command whose signature or key id is empty (``unsigned``), whose key
id it does not know (``unknown_key``) or is revoked (``revoked_key``), whose signature does
not match (``forged``), whose issuer is not the owner of its Ed25519 key (``wrong_issuer``), that
was issued more than ``INSITU_COMMAND_MAX_AGE`` ago (``stale``) or more than
``INSITU_COMMAND_MAX_SKEW`` in the future (``future``), that it has already seen
(``replayed``), or whose targets do not fit its action (``invalid_command``).

>>> from datetime import UTC, datetime
>>> cmd = new_command("freeze", [target("route", "credit")], issuer="alice",
...                   issued=datetime(2026, 11, 24, 10, 0, tzinfo=UTC), command_id="cmd-1")
>>> canonical(sign(cmd, "a-long-enough-secret", "ops-1"))
b'insitu-command-v1\\n{"action":"freeze","command_id":"cmd-1","issued_ts":1795514400000,"issuer":"alice","key_id":"ops-1","reason":"","targets":[{"kind":"route","name":"credit","version":null}]}'
>>> signed = sign(cmd, "a-long-enough-secret", "ops-1")
>>> verify(signed, {"ops-1": b"a-long-enough-secret"}, now=datetime(2026, 11, 24, 10, 1, tzinfo=UTC)) is None
True
>>> verify({**signed, "issuer": "mallory"}, {"ops-1": b"a-long-enough-secret"},
...        now=datetime(2026, 11, 24, 10, 1, tzinfo=UTC)).reason
'forged'
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from infra.operator_keys import OperatorKey, load_private_key

SigningKey = bytes | str | Ed25519PrivateKey
"""An HMAC secret, or an operator's Ed25519 private key."""
VerifyingKey = bytes | OperatorKey
"""An HMAC secret, or an operator's Ed25519 public key."""

PREFIX = b"insitu-command-v1\n"
ACTIONS = ("rollback", "pin", "unpin", "freeze", "unfreeze")
INSTANCE_ACTIONS = frozenset({"rollback", "pin", "unpin"})
ROUTE_ACTIONS = frozenset({"freeze", "unfreeze"})
MIN_KEY_LENGTH = 16
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Machine-readable rejection reasons (the ``reason`` of command.results and of dead letters).
UNSIGNED = "unsigned"
UNKNOWN_KEY = "unknown_key"
REVOKED_KEY = "revoked_key"
FORGED = "forged"
WRONG_ISSUER = "wrong_issuer"
KEYS_UNAVAILABLE = "keys_unavailable"
STALE = "stale"
FUTURE = "future"
REPLAYED = "replayed"
INVALID = "invalid_command"


@dataclass(frozen=True)
class Rejection:
    """Why a command is refused: ``reason`` is machine-readable, ``detail`` is for people."""

    reason: str
    detail: str


class CommandKeyError(ValueError):
    """No usable signing key is configured."""


class CommandSettings(BaseSettings):
    """What a command's sender needs (the CLI, any Python service); env prefix ``INSITU_``.

    >>> CommandSettings(command_key="0123456789abcdef", command_key_id="ops-1").keyring()
    {'ops-1': b'0123456789abcdef'}
    """

    model_config = SettingsConfigDict(env_prefix="INSITU_", frozen=True, extra="ignore")

    command_key: SecretStr | None = Field(
        None, description="INSITU_COMMAND_KEY: the HMAC-SHA256 key commands are signed with (>= 16 characters)."
    )
    command_key_id: str = Field("default", description="INSITU_COMMAND_KEY_ID: the id of INSITU_COMMAND_KEY.")
    command_keys: SecretStr = Field(
        SecretStr("{}"),
        description="INSITU_COMMAND_KEYS: JSON object of further key id -> key accepted when verifying (rotation).",
    )
    command_private_key_file: Path | None = Field(
        None,
        description="INSITU_COMMAND_PRIVATE_KEY_FILE: the operator's Ed25519 private key (PEM); when set, commands "
        "are signed with it (id INSITU_COMMAND_KEY_ID) instead of INSITU_COMMAND_KEY.",
    )
    command_issuer: str | None = Field(
        None,
        description="INSITU_COMMAND_ISSUER: who issues commands from this process (with an Ed25519 key: the operator "
        "who owns it); default: the OS user.",
    )

    @field_validator("command_key")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        return check_key(value)

    @field_validator("command_keys")
    @classmethod
    def _key_map(cls, value: SecretStr) -> SecretStr:
        return check_keys(value)

    def signing_key(self) -> SigningKey:
        """The key to sign with (the Ed25519 key file first), or a ``CommandKeyError`` naming what to set."""
        if self.command_private_key_file is not None:
            try:
                return load_private_key(self.command_private_key_file)
            except ValueError as exc:
                raise CommandKeyError(str(exc)) from exc
        if self.command_key is None:
            msg = (
                "neither INSITU_COMMAND_PRIVATE_KEY_FILE nor INSITU_COMMAND_KEY is set: commands must be signed "
                "(`insitu command-key new` makes an operator key; infra/commands.py has the recipe)"
            )
            raise CommandKeyError(msg)
        return self.command_key.get_secret_value().encode("utf-8")

    def keyring(self) -> dict[str, bytes]:
        return keyring(self.command_key, self.command_key_id, self.command_keys)


def check_key(value: SecretStr | None) -> SecretStr | None:
    """Validator shared by every settings class that holds INSITU_COMMAND_KEY."""
    if value is not None and len(value.get_secret_value()) < MIN_KEY_LENGTH:
        msg = f"INSITU_COMMAND_KEY must be at least {MIN_KEY_LENGTH} characters"
        raise ValueError(msg)
    return value


def check_keys(value: SecretStr) -> SecretStr:
    """Validator of INSITU_COMMAND_KEYS: a JSON object of key id -> key (each >= 16 characters)."""
    try:
        parsed = json.loads(value.get_secret_value())
    except json.JSONDecodeError as exc:
        msg = f"INSITU_COMMAND_KEYS is not JSON: {exc}"
        raise ValueError(msg) from exc
    if not isinstance(parsed, dict) or not all(isinstance(v, str) for v in parsed.values()):
        msg = "INSITU_COMMAND_KEYS must be a JSON object of key id -> key string"
        raise ValueError(msg)
    short = sorted(k for k, v in parsed.items() if len(v) < MIN_KEY_LENGTH)
    if short:
        msg = f"INSITU_COMMAND_KEYS: keys {short} are shorter than {MIN_KEY_LENGTH} characters"
        raise ValueError(msg)
    return value


def keyring(key: SecretStr | None, key_id: str, extra: SecretStr | None = None) -> dict[str, bytes]:
    """Key id -> key bytes: the extra keys (rotation) plus the current key."""
    ring = {k: v.encode("utf-8") for k, v in json.loads(extra.get_secret_value() if extra else "{}").items()}
    if key is not None:
        ring[key_id] = key.get_secret_value().encode("utf-8")
    return ring


def target(kind: str, name: str, version: int | None = None) -> dict[str, Any]:
    """One command target: ``kind`` is ``instance`` or ``route``."""
    return {"kind": kind, "name": name, "version": version}


def new_command(
    action: str,
    targets: Sequence[Mapping[str, Any]],
    *,
    issuer: str,
    reason: str = "",
    issued: datetime | None = None,
    command_id: str | None = None,
) -> dict[str, Any]:
    """An unsigned command record (``key_id`` and ``signature`` empty); ``sign`` it before sending."""
    if action not in ACTIONS:
        msg = f"unknown action {action!r}; expected one of {', '.join(ACTIONS)}"
        raise ValueError(msg)
    return {
        "command_id": command_id or str(uuid.uuid4()),
        "action": action,
        "targets": [target(t["kind"], t["name"], t.get("version")) for t in targets],
        "issuer": issuer,
        "issued_ts": issued or datetime.now(UTC),
        "key_id": "",
        "signature": "",
        "reason": reason,
    }


def millis(value: datetime | int) -> int:
    """Epoch milliseconds of an aware datetime (integers pass through)."""
    if isinstance(value, int):
        return value
    if value.tzinfo is None:
        msg = f"issued_ts must be timezone-aware, got {value!r}"
        raise ValueError(msg)
    return (value - _EPOCH) // timedelta(milliseconds=1)


def canonical(command: Mapping[str, Any]) -> bytes:
    """The bytes that are signed: prefix + sorted, compact JSON of every field but ``signature``."""
    body = {
        "action": command["action"],
        "command_id": command["command_id"],
        "issued_ts": millis(command["issued_ts"]),
        "issuer": command["issuer"],
        "key_id": command["key_id"],
        "reason": command.get("reason", ""),
        "targets": [{"kind": t["kind"], "name": t["name"], "version": t.get("version")} for t in command["targets"]],
    }
    return PREFIX + json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def signature(command: Mapping[str, Any], key: SigningKey) -> str:
    """Lowercase hex of the Ed25519 signature, or of the HMAC-SHA256, of ``canonical(command)``."""
    if isinstance(key, Ed25519PrivateKey):
        return key.sign(canonical(command)).hex()
    raw = key.encode("utf-8") if isinstance(key, str) else key
    return hmac.new(raw, canonical(command), hashlib.sha256).hexdigest()


def sign(command: Mapping[str, Any], key: SigningKey, key_id: str) -> dict[str, Any]:
    """A copy of ``command`` with ``key_id`` set and its ``signature``."""
    signed = {**command, "key_id": key_id}
    signed["signature"] = signature(signed, key)
    return signed


def verify(
    command: Mapping[str, Any],
    keys: Mapping[str, VerifyingKey],
    *,
    now: datetime,
    revoked: Collection[str] = frozenset(),
    max_age: timedelta = timedelta(minutes=5),
    max_skew: timedelta = timedelta(seconds=30),
) -> Rejection | None:
    """``None`` if ``command`` is authentic and fresh, else why not (replays are the caller's job)."""
    who = f"command {command.get('command_id')!r} from {command.get('issuer')!r}"
    key_id, given = command.get("key_id") or "", command.get("signature") or ""
    if not key_id or not given:
        return Rejection(UNSIGNED, f"{who} carries no {'key id' if not key_id else 'signature'}")
    if key_id in revoked:
        return Rejection(REVOKED_KEY, f"{who} is signed with revoked key id {key_id!r}")
    key = keys.get(key_id)
    if key is None:
        return Rejection(UNKNOWN_KEY, f"{who} is signed with unknown key id {key_id!r}")
    if not _authentic(command, key, given):
        return Rejection(FORGED, f"{who}: signature does not match its content (key id {key_id!r})")
    if isinstance(key, OperatorKey) and command["issuer"] != key.operator:
        detail = f"{who}: key id {key_id!r} belongs to operator {key.operator!r}, who must be the issuer"
        return Rejection(WRONG_ISSUER, detail)
    issued = command["issued_ts"]
    issued_dt = _EPOCH + timedelta(milliseconds=issued) if isinstance(issued, int) else issued
    age = now - issued_dt
    if age > max_age:
        return Rejection(STALE, f"{who} was issued {_span(age)} ago; commands older than {_span(max_age)} are refused")
    if -age > max_skew:
        return Rejection(FUTURE, f"{who} is issued {_span(-age)} in the future (allowed clock skew {_span(max_skew)})")
    return None


def _authentic(command: Mapping[str, Any], key: VerifyingKey, given: str) -> bool:
    if isinstance(key, OperatorKey):
        try:
            raw = bytes.fromhex(given)
        except ValueError:
            return False
        return key.verify(raw, canonical(command))
    return hmac.compare_digest(signature(command, key), given.lower())


def check_shape(command: Mapping[str, Any]) -> Rejection | None:
    """``None`` if the targets fit the action: one instance (rollback, pin with a version, unpin)
    or one route (freeze, unfreeze)."""
    action, targets = command["action"], command["targets"]
    who = f"command {command.get('command_id')!r}"
    if len(targets) != 1:
        return Rejection(INVALID, f"{who}: {action} takes exactly one target, got {len(targets)}")
    (only,) = targets
    kind = "instance" if action in INSTANCE_ACTIONS else "route"
    if only["kind"] != kind:
        return Rejection(INVALID, f"{who}: {action} needs a target of kind {kind!r}, got {only['kind']!r}")
    if not str(only["name"]).strip():
        return Rejection(INVALID, f"{who}: the target's name is empty")
    if action == "pin" and only.get("version") is None:
        return Rejection(INVALID, f"{who}: pin needs a version")
    if action in ("unpin", "freeze", "unfreeze") and only.get("version") is not None:
        return Rejection(INVALID, f"{who}: {action} takes no version")
    if only.get("version") is not None and only["version"] < 1:
        return Rejection(INVALID, f"{who}: version must be >= 1, got {only['version']}")
    return None


def _span(delta: timedelta) -> str:
    seconds = delta.total_seconds()
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.0f} s"
