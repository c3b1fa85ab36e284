"""Command signing and verification, the command settings, and the CLI commands."""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr, ValidationError

from infra.app.command_cli import add_commands, send_command
from infra.commands import (
    CommandKeyError,
    CommandSettings,
    canonical,
    check_shape,
    keyring,
    new_command,
    sign,
    target,
    verify,
)
from infra.config import Settings
from schemas import Serde
from tests.streams.worker_process import read_topic

KEY = "0123456789abcdef-secret"
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def command(**overrides):
    base = new_command(
        "rollback",
        [target("instance", "credit-a", 3)],
        issuer="alice",
        reason="bad canary",
        issued=NOW,
        command_id="cmd-1",
    )
    return {**base, **overrides}


def test_signature_follows_the_documented_recipe():
    body = (
        '{"action":"rollback","command_id":"cmd-1","issued_ts":1795514400000,"issuer":"alice","key_id":"ops",'
        '"reason":"bad canary","targets":[{"kind":"instance","name":"credit-a","version":3}]}'
    )
    expected = hmac.new(KEY.encode(), b"insitu-command-v1\n" + body.encode(), hashlib.sha256).hexdigest()
    signed = sign(command(), KEY, "ops")
    assert signed["signature"] == expected and signed["key_id"] == "ops"
    assert verify(signed, {"ops": KEY.encode()}, now=NOW) is None


def test_canonical_encoding_ignores_key_order_and_the_signature_and_keeps_unicode():
    a = command(issuer="zoë")
    b = dict(reversed(list({**a, "signature": "whatever"}.items())))
    assert canonical(a) == canonical(b)
    assert "zoë".encode() in canonical(a)


@pytest.mark.parametrize(
    "change",
    [
        {"action": "pin"},
        {"command_id": "cmd-2"},
        {"issued_ts": NOW + timedelta(milliseconds=1)},
        {"issuer": "mallory"},
        {"reason": ""},
        {"targets": [target("instance", "credit-a", 4)]},
        {"targets": [target("instance", "credit-b", 3)]},
        {"key_id": "other"},
    ],
)
def test_changing_any_field_breaks_the_signature(change):
    signed = sign(command(), KEY, "ops")
    rejection = verify({**signed, **change}, {"ops": KEY.encode(), "other": KEY.encode()}, now=NOW)
    assert rejection is not None and rejection.reason == "forged"


def test_verification_reasons_and_details():
    signed = sign(command(), KEY, "ops")
    keys = {"ops": KEY.encode()}
    stale = verify(signed, keys, now=NOW + timedelta(minutes=10))
    assert stale.reason == "stale" and "10.0 min ago" in stale.detail and "5.0 min" in stale.detail
    assert verify(signed, keys, now=NOW - timedelta(minutes=1)).reason == "future"
    assert verify(signed, keys, now=NOW - timedelta(seconds=20)) is None  # within the skew
    assert verify({**signed, "signature": ""}, keys, now=NOW).reason == "unsigned"
    assert verify(signed, {"other": KEY.encode()}, now=NOW).reason == "unknown_key"
    assert verify({**signed, "signature": signed["signature"].upper()}, keys, now=NOW) is None


def test_a_signed_command_survives_avro_and_json_on_the_wire():
    serde = Serde()
    signed = sign(command(), KEY, "ops")
    decoded = serde.decode("commands", serde.encode("commands", signed))
    assert verify(decoded, {"ops": KEY.encode()}, now=NOW) is None
    as_json = {**signed, "issued_ts": "2026-11-24T10:00:00Z"}  # what another service might send
    decoded = serde.decode("commands", json.dumps(as_json).encode())
    assert verify(decoded, {"ops": KEY.encode()}, now=NOW) is None


def test_shapes():
    assert check_shape(command()) is None
    assert check_shape(command(action="pin", targets=[target("instance", "a")])).detail.endswith("pin needs a version")
    assert "needs a target of kind 'route'" in check_shape(command(action="freeze")).detail
    assert check_shape(command(action="unpin")).detail.endswith("unpin takes no version")
    assert check_shape(command(targets=[target("instance", " ")])).detail.endswith("the target's name is empty")
    with pytest.raises(ValueError, match="unknown action 'restart'"):
        new_command("restart", [], issuer="x")


def test_command_settings(monkeypatch):
    monkeypatch.setenv("INSITU_COMMAND_KEY", KEY)
    monkeypatch.setenv("INSITU_COMMAND_KEY_ID", "ops-2")
    monkeypatch.setenv("INSITU_COMMAND_KEYS", json.dumps({"ops-1": "an-older-key-16chars"}))
    settings = CommandSettings()
    assert settings.keyring() == {"ops-1": b"an-older-key-16chars", "ops-2": KEY.encode()}
    assert KEY not in repr(settings)
    monkeypatch.setenv("INSITU_COMMAND_KEY", "short")
    with pytest.raises(ValidationError, match="at least 16 characters"):
        CommandSettings()
    monkeypatch.delenv("INSITU_COMMAND_KEY")
    with pytest.raises(CommandKeyError, match="neither INSITU_COMMAND_PRIVATE_KEY_FILE nor INSITU_COMMAND_KEY is set"):
        CommandSettings().signing_key()
    assert keyring(SecretStr(KEY), "k") == {"k": KEY.encode()}


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="insitu")
    add_commands(root.add_subparsers(dest="command", required=True))
    return root


def test_the_parser_builds_each_command():
    args = parser().parse_args(["rollback", "credit-a", "--to", "3", "--reason", "r", "--wait", "0"])
    assert (args.action, args.kind, args.instance, args.version, args.reason, args.wait) == (
        "rollback",
        "instance",
        "credit-a",
        3,
        "r",
        0.0,
    )
    assert parser().parse_args(["pin", "credit-a", "2"]).version == 2
    assert parser().parse_args(["unpin", "credit-a"]).version is None
    freeze = parser().parse_args(["freeze", "credit"])
    assert (freeze.kind, freeze.route, freeze.version) == ("route", "credit", None)
    with pytest.raises(SystemExit):
        parser().parse_args(["pin", "credit-a"])


@pytest.mark.kafka
def test_cli_sends_a_signed_command(cli_env, monkeypatch, capsys):
    monkeypatch.setenv("INSITU_COMMAND_KEY", KEY)
    monkeypatch.setenv("INSITU_COMMAND_KEY_ID", "ops")
    args = parser().parse_args(["pin", "credit-a", "2", "--reason", "hold it", "--issuer", "bob", "--wait", "0"])
    assert args.handler(args, Settings()) == 0
    assert "sent pin credit-a" in capsys.readouterr().out
    (sent,) = read_topic(cli_env, "commands", lambda r: len(r) >= 1)
    assert (sent["action"], sent["issuer"], sent["reason"], sent["targets"]) == (
        "pin",
        "bob",
        "hold it",
        [{"kind": "instance", "name": "credit-a", "version": 2}],
    )
    assert verify(sent, {"ops": KEY.encode()}, now=datetime.now(UTC)) is None


@pytest.mark.kafka
def test_cli_without_a_key_sends_nothing(cli_env, monkeypatch):
    monkeypatch.delenv("INSITU_COMMAND_KEY", raising=False)
    args = parser().parse_args(["freeze", "credit", "--wait", "0"])
    with pytest.raises(CommandKeyError):
        args.handler(args, Settings())


@pytest.mark.kafka
def test_waiting_without_the_topics_is_a_clear_error(kafka_settings):
    command = sign(new_command("freeze", [target("route", "credit")], issuer="t"), KEY, "ops")
    with pytest.raises(RuntimeError, match=r"command\.results: .*run `insitu topics create`"):
        send_command(kafka_settings, command, wait=5)
