"""The command gate: every rejection reason, and replay memory that expires with staleness."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from infra.commands import new_command, sign, target
from streams.router.gate import CommandGate

KEY = b"0123456789abcdef-secret"
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
GATE = CommandGate({"ops": KEY}, max_age=timedelta(minutes=5), max_skew=timedelta(seconds=30))


def command(**overrides):
    base = new_command("rollback", [target("instance", "credit-a")], issuer="alice", issued=NOW)
    return sign({**base, **overrides}, KEY, "ops")


@pytest.mark.parametrize(
    ("cmd", "reason"),
    [
        ({**command(), "signature": ""}, "unsigned"),
        ({**command(), "key_id": ""}, "unsigned"),
        ({**command(), "targets": [target("instance", "credit-b")]}, "forged"),
        ({**command(), "signature": "00" * 32}, "forged"),
        (sign(command(), b"another-key-of-16-chars", "ops"), "forged"),
        (sign(command(), KEY, "nobody"), "unknown_key"),
        (command(issued_ts=NOW - timedelta(minutes=6)), "stale"),
        (command(issued_ts=NOW + timedelta(minutes=2)), "future"),
        (command(action="pin"), "invalid_command"),
        (command(targets=[target("route", "credit")]), "invalid_command"),
        (command(targets=[]), "invalid_command"),
    ],
)
def test_rejections(cmd, reason):
    seen: dict[str, int] = {}
    rejection = GATE.check(cmd, seen, now=NOW)
    assert rejection is not None and rejection.reason == reason
    assert seen == {}, "nothing is remembered from a rejected command"


def test_a_forged_command_does_not_burn_the_id_of_the_genuine_one():
    genuine = command()
    seen: dict[str, int] = {}
    assert GATE.check({**genuine, "issuer": "mallory"}, seen, now=NOW).reason == "forged"
    assert GATE.check(genuine, seen, now=NOW) is None
    assert GATE.check(genuine, seen, now=NOW + timedelta(minutes=1)).reason == "replayed"


def test_ids_are_forgotten_once_their_command_is_stale_anyway():
    seen: dict[str, int] = {}
    old = command()
    assert GATE.check(old, seen, now=NOW) is None
    fresh = command(issued_ts=NOW + timedelta(minutes=6))
    assert GATE.check(fresh, seen, now=NOW + timedelta(minutes=6)) is None
    assert set(seen) == {fresh["command_id"]}
    assert GATE.check(old, seen, now=NOW + timedelta(minutes=6)).reason == "stale"


def test_the_same_message_again_passes_but_the_same_command_in_another_message_is_a_replay():
    seen: dict[str, dict] = {}
    genuine = command()
    assert GATE.check(genuine, seen, now=NOW, offset=12) is None
    assert GATE.check(genuine, seen, now=NOW, offset=12) is None  # processed again after a restart
    assert GATE.check(genuine, seen, now=NOW, offset=13).reason == "replayed"
