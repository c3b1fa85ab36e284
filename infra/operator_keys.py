"""Per-operator Ed25519 command keys: each operator signs with a private key only they hold.

Verifiers (the streams workers) hold public keys only, so nothing that checks a command can
forge one, and a command's ``issuer`` must be the operator who owns its key. The public keys
live in one JSON file (``INSITU_COMMAND_PUBLIC_KEYS_FILE``), re-read whenever it changes, so
adding, rotating and revoking keys needs no restart::

    {"keys": {"alice-2026-11": {"operator": "alice", "ed25519": "<base64 of the 32-byte public key>"}},
     "revoked": ["alice-2026-05"]}

An operator's private key is a PEM (PKCS #8) file, as ``openssl genpkey -algorithm ed25519``
or ``insitu command-key new`` writes it (``INSITU_COMMAND_PRIVATE_KEY_FILE`` on the sender).

>>> private = Ed25519PrivateKey.generate()
>>> key = OperatorKey.from_entry(public_entry(private, "alice"))
>>> key.operator, key.verify(private.sign(b"data"), b"data"), key.verify(bytes(64), b"data")
('alice', True, False)
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

log = logging.getLogger(__name__)


class OperatorKeyError(ValueError):
    """A key file or a public keys file that cannot be used, with the path and what is wrong."""


@dataclass(frozen=True)
class OperatorKey:
    """One operator's public key: commands signed with it must name ``operator`` as their issuer."""

    operator: str
    public_key: Ed25519PublicKey

    @classmethod
    def from_entry(cls, entry: Any, where: str = "entry") -> OperatorKey:
        """From ``{"operator": ..., "ed25519": base64}``; an ``OperatorKeyError`` naming ``where`` if malformed."""
        if not isinstance(entry, dict) or set(entry) != {"operator", "ed25519"}:
            msg = f"{where}: expected an object with exactly 'operator' and 'ed25519', got {entry!r}"
            raise OperatorKeyError(msg)
        operator, encoded = entry["operator"], entry["ed25519"]
        if not isinstance(operator, str) or not operator.strip():
            msg = f"{where}: 'operator' must be a non-empty string"
            raise OperatorKeyError(msg)
        try:
            raw = base64.b64decode(encoded, validate=True)
            public_key = Ed25519PublicKey.from_public_bytes(raw)
        except (TypeError, ValueError, binascii.Error) as exc:
            msg = f"{where}: 'ed25519' is not the base64 of a 32-byte Ed25519 public key ({exc})"
            raise OperatorKeyError(msg) from exc
        return cls(operator, public_key)

    def verify(self, signature: bytes, data: bytes) -> bool:
        try:
            self.public_key.verify(signature, data)
        except InvalidSignature:
            return False
        return True


def public_entry(private_key: Ed25519PrivateKey, operator: str) -> dict[str, str]:
    """The public keys file's entry for ``private_key``, owned by ``operator``."""
    raw = private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"operator": operator, "ed25519": base64.b64encode(raw).decode("ascii")}


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """An unencrypted PEM (PKCS #8) Ed25519 private key."""
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        msg = f"cannot read the Ed25519 private key {path}: {exc}"
        raise OperatorKeyError(msg) from exc
    if not isinstance(key, Ed25519PrivateKey):
        msg = f"{path} holds a {type(key).__name__}, not an Ed25519 private key"
        raise OperatorKeyError(msg)
    return key


def write_private_key(path: Path) -> Ed25519PrivateKey:
    """A new Ed25519 private key written to ``path`` (PEM, PKCS #8, mode 0600); never overwrites a file."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        msg = f"{path} exists; a key file is never overwritten"
        raise OperatorKeyError(msg) from exc
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    return key


def parse_public_keys(text: str, where: str) -> tuple[dict[str, OperatorKey], frozenset[str]]:
    """Key id -> operator key, and the revoked key ids, of a public keys file's content."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        msg = f"{where} is not JSON: {exc}"
        raise OperatorKeyError(msg) from exc
    if not isinstance(document, dict) or not set(document) <= {"keys", "revoked"}:
        msg = f"{where}: expected an object with 'keys' and optionally 'revoked'"
        raise OperatorKeyError(msg)
    entries, revoked = document.get("keys", {}), document.get("revoked", [])
    if not isinstance(entries, dict):
        msg = f"{where}: 'keys' must be an object of key id -> key"
        raise OperatorKeyError(msg)
    if not isinstance(revoked, list) or not all(isinstance(k, str) for k in revoked):
        msg = f"{where}: 'revoked' must be a list of key ids"
        raise OperatorKeyError(msg)
    keys = {key_id: OperatorKey.from_entry(entry, f"{where}: key {key_id!r}") for key_id, entry in entries.items()}
    return keys, frozenset(revoked)


@dataclass
class PublicKeysFile:
    """The operators' public keys file, re-read when its modification time or size changes.

    While the file cannot be read or parsed, ``current`` raises: a broken revocation must not leave
    a key accepted, so the caller refuses every command until the file is mended.
    """

    path: Path
    _stamp: tuple[int, int] | None = field(default=None, init=False)
    _parsed: tuple[dict[str, OperatorKey], frozenset[str]] | None = field(default=None, init=False)
    _error: str | None = field(default=None, init=False)

    def current(self) -> tuple[dict[str, OperatorKey], frozenset[str]]:
        """Key id -> operator key and the revoked ids, as the file says now; ``OperatorKeyError`` if it is broken."""
        try:
            stat = self.path.stat()
            stamp = (stat.st_mtime_ns, stat.st_size)
            if stamp != self._stamp:
                self._stamp, self._parsed = stamp, None
                self._parsed = parse_public_keys(self.path.read_text(), str(self.path))
                self._error = None
        except (OSError, OperatorKeyError) as exc:
            error = str(exc) if isinstance(exc, OperatorKeyError) else f"cannot read {self.path}: {exc}"
            if error != self._error:
                log.error("%s; every command is refused until it is mended", error)
            self._error, self._stamp, self._parsed = error, None, None
            raise OperatorKeyError(error) from exc
        assert self._parsed is not None
        return self._parsed


def add_public_key(path: Path, key_id: str, entry: dict[str, str]) -> None:
    """Add ``key_id`` to the public keys file at ``path`` (created if missing); never replaces a key id."""
    keys, revoked = _read_document(path)
    if key_id in keys or key_id in revoked:
        msg = f"{path} already has key id {key_id!r}; choose another"
        raise OperatorKeyError(msg)
    OperatorKey.from_entry(entry, f"key {key_id!r}")
    _write_document(path, {**keys, key_id: entry}, revoked)


def revoke_key(path: Path, key_id: str) -> None:
    """Move ``key_id`` from the keys of the public keys file at ``path`` to its revoked ids."""
    keys, revoked = _read_document(path)
    if key_id in revoked:
        return
    keys.pop(key_id, None)
    _write_document(path, keys, [*revoked, key_id])


def _read_document(path: Path) -> tuple[dict[str, Any], list[str]]:
    if not path.exists():
        return {}, []
    text = path.read_text()
    parse_public_keys(text, str(path))  # refuse to edit a broken file
    document = json.loads(text)
    return dict(document.get("keys", {})), list(document.get("revoked", []))


def _write_document(path: Path, keys: dict[str, Any], revoked: list[str]) -> None:
    """Replace the file in one step: a verifier re-reading it never sees half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps({"keys": keys, "revoked": revoked}, indent=2, sort_keys=True) + "\n")
    os.replace(partial, path)
