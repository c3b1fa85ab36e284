"""Per-operator Ed25519 command keys: signing, verification, the public keys file, the CLI."""

from __future__ import annotations

import argparse
import json
import stat
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError

from infra.app.command_key_cli import add_commands
from infra.commands import CommandKeyError, CommandSettings, new_command, sign, target, verify
from infra.config import Settings
from infra.operator_keys import (
    OperatorKey,
    OperatorKeyError,
    PublicKeysFile,
    add_public_key,
    public_entry,
    revoke_key,
)
from streams.config import StreamSettings
from streams.router.gate import CommandGate

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
ALICE = Ed25519PrivateKey.generate()


def command(issuer: str = "alice", **overrides):
    base = new_command("freeze", [target("route", "credit")], issuer=issuer, issued=NOW, command_id="cmd-1")
    return {**base, **overrides}


def test_a_public_key_verifies_and_the_issuer_must_own_the_key():
    keys = {"alice-1": OperatorKey.from_entry(public_entry(ALICE, "alice"))}
    signed = sign(command(), ALICE, "alice-1")
    assert len(signed["signature"]) == 128 and verify(signed, keys, now=NOW) is None
    as_bob = verify(sign(command(issuer="bob"), ALICE, "alice-1"), keys, now=NOW)
    assert as_bob.reason == "wrong_issuer" and "belongs to operator 'alice'" in as_bob.detail
    assert verify(sign(command(), Ed25519PrivateKey.generate(), "alice-1"), keys, now=NOW).reason == "forged"
    assert verify({**signed, "reason": "changed"}, keys, now=NOW).reason == "forged"
    assert verify({**signed, "signature": "not hex"}, keys, now=NOW).reason == "forged"
    assert verify(signed, keys, now=NOW, revoked={"alice-1"}).reason == "revoked_key"
    assert verify(sign(command(), b"x" * 16, "alice-1"), keys, now=NOW).reason == "forged"  # HMAC under its id


@pytest.mark.parametrize(
    ("content", "error"),
    [
        ("not json", "is not JSON"),
        ('{"keys": {}, "other": 1}', "expected an object with 'keys'"),
        ('{"keys": {"k": {"operator": "a"}}}', "exactly 'operator' and 'ed25519'"),
        ('{"keys": {"k": {"operator": "a", "ed25519": "AAAA"}}}', "not the base64 of a 32-byte Ed25519"),
        ('{"keys": {"k": {"operator": " ", "ed25519": "AAAA"}}}', "non-empty string"),
        ('{"revoked": "k"}', "list of key ids"),
    ],
)
def test_a_broken_public_keys_file_is_refused_with_its_path(tmp_path, content, error):
    path = tmp_path / "keys.json"
    path.write_text(content)
    with pytest.raises(OperatorKeyError, match=error) as raised:
        PublicKeysFile(path).current()
    assert str(path) in str(raised.value)
    with pytest.raises(ValidationError, match=error):
        StreamSettings(command_public_keys_file=path)


def test_the_gate_follows_the_file_as_it_changes_and_refuses_everything_while_it_is_broken(tmp_path):
    path = tmp_path / "keys.json"
    add_public_key(path, "alice-1", public_entry(ALICE, "alice"))
    gate = CommandGate(
        {"shared": b"s" * 16}, max_age=timedelta(minutes=5), max_skew=timedelta(0), public_keys=PublicKeysFile(path)
    )
    assert gate.verify(sign(command(), ALICE, "alice-1"), NOW) is None
    assert gate.verify(sign(command(), b"s" * 16, "shared"), NOW) is None
    rotated = Ed25519PrivateKey.generate()
    add_public_key(path, "alice-2", public_entry(rotated, "alice"))
    revoke_key(path, "alice-1")
    assert gate.verify(sign(command(), rotated, "alice-2"), NOW) is None
    assert gate.verify(sign(command(), ALICE, "alice-1"), NOW).reason == "revoked_key"
    revoke_key(path, "shared")  # an HMAC key id can be revoked in the same file
    assert gate.verify(sign(command(), b"s" * 16, "shared"), NOW).reason == "revoked_key"
    with pytest.raises(OperatorKeyError, match="already has key id 'alice-1'"):
        add_public_key(path, "alice-1", public_entry(rotated, "alice"))

    good = path.read_text()
    path.write_text(good[:-10])
    broken = gate.verify(sign(command(), rotated, "alice-2"), NOW)
    assert broken.reason == "keys_unavailable" and str(path) in broken.detail
    path.write_text(good)
    assert gate.verify(sign(command(), rotated, "alice-2"), NOW) is None
    path.write_text(json.dumps({"keys": {"shared": public_entry(rotated, "alice")}}))
    assert gate.verify(sign(command(), rotated, "shared"), NOW).reason == "keys_unavailable"  # an id in both


def cli(*argv: str) -> argparse.Namespace:
    root = argparse.ArgumentParser(prog="insitu")
    add_commands(root.add_subparsers(dest="command", required=True))
    return root.parse_args(argv)


def test_the_cli_makes_a_key_only_its_operator_can_read_and_revokes_it(tmp_path, monkeypatch, capsys):
    keys_file, settings = tmp_path / "public.json", Settings(data_dir=tmp_path / "data")
    args = cli("command-key", "new", "alice", "--key-id", "alice-1", "--public-keys-file", str(keys_file))
    assert args.handler(args, settings) == 0
    private = settings.data_dir / "operator-keys" / "alice-1.pem"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert f"INSITU_COMMAND_PRIVATE_KEY_FILE={private}" in capsys.readouterr().out
    assert args.handler(args, settings) == 1  # never overwrites a key file
    assert "exists; a key file is never overwritten" in capsys.readouterr().err

    monkeypatch.setenv("INSITU_COMMAND_PRIVATE_KEY_FILE", str(private))
    monkeypatch.setenv("INSITU_COMMAND_KEY_ID", "alice-1")
    sender = CommandSettings()
    signed = sign(command(), sender.signing_key(), sender.command_key_id)
    operators, revoked = PublicKeysFile(keys_file).current()
    assert verify(signed, operators, now=NOW, revoked=revoked) is None

    monkeypatch.setenv("INSITU_COMMAND_PUBLIC_KEYS_FILE", str(keys_file))
    args = cli("command-key", "revoke", "alice-1")
    assert args.handler(args, settings) == 0
    operators, revoked = PublicKeysFile(keys_file).current()
    assert verify(signed, operators, now=NOW, revoked=revoked).reason == "revoked_key"

    private.write_text("not a key")
    with pytest.raises(CommandKeyError, match="cannot read the Ed25519 private key"):
        CommandSettings().signing_key()
