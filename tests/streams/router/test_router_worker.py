"""The router in a real streams worker against the real broker: weights, canaries, commands."""

from __future__ import annotations

import argparse
import json
import random
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from infra.app.command_cli import add_commands, send_command
from infra.commands import new_command, sign, target
from infra.config import Settings
from infra.gateway import RoutingTable
from infra.kafka_clients import admin
from infra.operator_keys import add_public_key, public_entry, revoke_key
from infra.topics import create_topics
from schemas import Serde
from tests.samples import SAMPLES
from tests.streams.router.process import COMMAND_KEY, Feed, RouterProcess
from tests.streams.worker_process import read_topic, worker_env

pytestmark = pytest.mark.kafka
ALICE = Ed25519PrivateKey.generate()  # an operator's key; the worker holds only its public half


@pytest.fixture(scope="module")
def router(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """One router worker for the module; each test uses routes of its own."""
    data = tmp_path_factory.mktemp("router")
    settings = Settings(
        data_dir=data, kafka_bootstrap=kafka_bootstrap, topic_prefix=f"r{uuid.uuid4().hex[:10]}.", topic_partitions=2
    )
    create_topics(admin(settings), settings)
    routes_file = Path(data) / "routes.json"
    routes_file.write_text(json.dumps({"routes": {r: {} for r in ("best", "snap", "canary", "ops")}}))
    add_public_key(Path(data) / "operators.json", "alice-1", public_entry(ALICE, "alice"))
    env = worker_env(
        settings,
        INSITU_ROUTES_FILE=str(routes_file),
        INSITU_ROUTER_INTERVAL="1",
        INSITU_ROUTER_DRAWS="4000",
        INSITU_CANARY_STEPS="[0.2, 0.5]",
        INSITU_CANARY_STEP_SAMPLES="40",
        INSITU_CANARY_MIN_SAMPLES="30",
        INSITU_COMMAND_KEY=COMMAND_KEY,
        INSITU_COMMAND_KEY_ID="ops",
        INSITU_COMMAND_PUBLIC_KEYS_FILE=str(Path(data) / "operators.json"),
    )
    process = RouterProcess(env, Path(data) / "router.log").start()
    yield settings
    process.stop()


def latest(records: list[dict], route: str) -> dict | None:
    vectors = [r for r in records if r.get("route") == route and "weights" in r]
    return max(vectors, key=lambda r: r["epoch"]) if vectors else None


def shares(vector: dict) -> dict[tuple[str, int], float]:
    return {(w["instance_id"], w["version"]): w["weight"] for w in vector["weights"]}


def test_weights_move_toward_the_clearly_better_instance(router):
    feed, rng = Feed(router), random.Random(1)
    accuracy = {"best-a": 0.95, "best-b": 0.6, "best-c": 0.6}
    for _ in range(900):
        instance = rng.choice(sorted(accuracy))
        feed.joined("best", instance, 1, rng.random() < accuracy[instance])
    feed.flush()

    def favoured(records):
        vector = latest(records, "best")
        return vector is not None and len(vector["weights"]) == 3 and shares(vector)[("best-a", 1)] >= 0.79

    vector = latest(read_topic(router, "routing.weights", favoured, timeout=90), "best")
    weights = shares(vector)
    assert weights[("best-a", 1)] == pytest.approx(0.8)  # the cap
    assert weights[("best-b", 1)] >= 0.05 and weights[("best-c", 1)] >= 0.05  # the floor
    assert sum(weights.values()) == pytest.approx(1.0)


def test_snapshots_count_as_evidence_and_bad_input_is_dead_lettered(router):
    feed, serde = Feed(router), Serde()
    for instance, accuracy in (("snap-a", 0.97), ("snap-b", 0.5)):
        snapshot = {
            **SAMPLES["metrics.snapshots"],
            "instance_id": instance,
            "route": "snap",
            "model_version": 1,
            "window": "version",
            "snapshot_ts": datetime.now(UTC).isoformat(),
            "labelled": 2000,
            "accuracy": accuracy,
        }
        feed.send("metrics.snapshots", instance.encode(), serde.encode_json("metrics.snapshots", snapshot))
    feed.producer.produce(feed.joined_topic, key=b"x", value=b"\x00\x00\x00\x00\x04garbage")
    feed.version("snap", "snap-a", 2, "shipped")
    feed.joined("nowhere", "n-a", 1, True)
    feed.flush()

    def favoured(records):
        vector = latest(records, "snap")
        return vector is not None and shares(vector).get(("snap-a", 1), 0) >= 0.79

    assert shares(latest(read_topic(router, "routing.weights", favoured, timeout=60), "snap"))[("snap-b", 1)] >= 0.05
    expected = {"undecodable", "schema_violation", "unknown_route"}

    def ours(records):
        return expected <= {d["reason"] for d in records if d["source"] == "streams.router"}

    dead = [d for d in read_topic(router, "deadletter", ours, timeout=60) if d["source"] == "streams.router"]
    unknown = next(d for d in dead if d["reason"] == "unknown_route")
    assert unknown["original_topic"] == feed.joined_topic and "'nowhere'" in unknown["detail"]
    assert "status 'shipped'" in next(d for d in dead if d["reason"] == "schema_violation")["detail"]


def serve(
    table: RoutingTable, feed: Feed, route: str, accuracy: dict[tuple[str, int], float], n: int, rng: random.Random
) -> None:
    """Traffic as a gateway would send it: choose by the current weights, label by each version's accuracy."""
    for _ in range(n):
        chosen = table.choose(route, rng=rng)
        feed.joined(
            route, chosen.instance_id, chosen.version, rng.random() < accuracy[(chosen.instance_id, chosen.version)]
        )
    feed.flush()


def run_until(condition, table: RoutingTable, feed: Feed, route: str, accuracy, rng, timeout: float = 120.0) -> list:
    """Serve traffic in rounds until ``condition(model.versions records)`` holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        serve(table, feed, route, accuracy, 100, rng)
        time.sleep(1.5)
        records = read_topic(feed.settings, "model.versions", lambda r: True)
        if condition(records):
            return records
    msg = f"no decision on {route} within {timeout}s; vector {table.vector(route)}"
    raise AssertionError(msg)


def decided(instance: str, version: int, status: str):
    def check(records):
        return any(r["instance_id"] == instance and r["version"] == version and r["status"] == status for r in records)

    return check


def test_a_worse_candidate_is_rolled_back_and_a_better_one_promoted(router):
    feed, rng = Feed(router), random.Random(2)
    for _ in range(60):
        feed.joined("canary", "cy-a", 1, rng.random() < 0.8)
        feed.joined("canary", "cy-b", 1, rng.random() < 0.8)
    feed.flush()
    with RoutingTable(router) as table:
        deadline = time.monotonic() + 60
        while table.vector("canary") is None:
            assert time.monotonic() < deadline, "no weights for route canary"
            time.sleep(0.2)
        accuracy = {("cy-a", 1): 0.8, ("cy-b", 1): 0.8, ("cy-a", 2): 0.35, ("cy-a", 3): 0.98}
        feed.version("canary", "cy-a", 2, "candidate", parent=1)
        feed.flush()
        records = run_until(decided("cy-a", 2, "rolled_back"), table, feed, "canary", accuracy, rng)
        rolled = next(r for r in records if r["version"] == 2 and r["status"] == "rolled_back")
        assert "worse than v1" in rolled["reason"] and rolled["metrics"]["p_worse"] >= 0.95
        deadline = time.monotonic() + 30
        while ("cy-a", 2) in table.vector("canary").versions():
            assert time.monotonic() < deadline, "weights still name the rolled-back v2"
            time.sleep(0.2)
        assert table.vector("canary").versions() == {("cy-a", 1), ("cy-b", 1)}

        feed.version("canary", "cy-a", 3, "candidate", parent=1)
        feed.flush()
        records = run_until(decided("cy-a", 3, "promoted"), table, feed, "canary", accuracy, rng)
        assert not decided("cy-a", 3, "rolled_back")(records)
        deadline = time.monotonic() + 30
        while table.vector("canary").versions() != {("cy-a", 3), ("cy-b", 1)}:
            assert time.monotonic() < deadline, f"weights never settled on v3: {table.vector('canary')}"
            time.sleep(0.2)
        roles = {t.role for t in table.vector("canary").targets}
        assert roles == {"stable"}


def wait_for_versions(table: RoutingTable, route: str, expected: set[tuple[str, int]], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while (vector := table.vector(route)) is None or vector.versions() != expected:
        assert time.monotonic() < deadline, f"{route} never served {expected}: {vector}"
        time.sleep(0.1)


def signed(action: str, kind: str, name: str, version: int | None = None, **overrides) -> dict:
    command = new_command(action, [target(kind, name, version)], issuer="test", reason="test")
    return sign({**command, **overrides}, COMMAND_KEY, "ops")


def test_rollback_reaches_gateways_and_bad_commands_are_rejected_and_audited(router, monkeypatch, capsys):
    feed, rng = Feed(router), random.Random(3)
    for _ in range(50):
        feed.joined("ops", "ops-a", 1, rng.random() < 0.8)
        feed.joined("ops", "ops-b", 1, rng.random() < 0.8)
    feed.flush()
    with RoutingTable(router) as gateway:
        wait_for_versions(gateway, "ops", {("ops-a", 1), ("ops-b", 1)})
        feed.version("ops", "ops-a", 2, "promoted")  # e.g. by an operator in the registry
        feed.flush()
        wait_for_versions(gateway, "ops", {("ops-a", 2), ("ops-b", 1)})

        monkeypatch.setenv("INSITU_COMMAND_KEY", COMMAND_KEY)
        monkeypatch.setenv("INSITU_COMMAND_KEY_ID", "ops")
        parser = argparse.ArgumentParser(prog="insitu")
        add_commands(parser.add_subparsers(dest="command", required=True))
        args = parser.parse_args(["rollback", "ops-a", "--reason", "bad metrics", "--wait", "60"])
        sent = time.monotonic()
        assert args.handler(args, router) == 0
        assert "v2 rolled back; serving v1" in capsys.readouterr().out
        while ("ops-a", 1) not in gateway.vector("ops").versions():
            assert time.monotonic() - sent < 30, "the gateway never served ops-a v1"
            time.sleep(0.05)
        print(f"rollback reached the gateway's table {time.monotonic() - sent:.2f}s after it was sent")
        assert all(t.version == 1 for t in gateway.vector("ops").targets if t.instance_id == "ops-a")

    serde = Serde()
    replayed = signed("freeze", "route", "ops")
    bad = {
        "unsigned": {**signed("freeze", "route", "ops"), "signature": ""},
        "forged": {**signed("freeze", "route", "ops"), "issuer": "mallory"},
        "stale": signed("freeze", "route", "ops", issued_ts=datetime.now(UTC) - timedelta(hours=2)),
        "unknown_key": sign(new_command("freeze", [target("route", "ops")], issuer="x"), COMMAND_KEY, "nobody"),
        "unknown_instance": signed("pin", "instance", "nobody", 1),
        "unknown_version": signed("pin", "instance", "ops-b", 7),
    }
    assert send_command(router, replayed, wait=60)["result"] == "accepted"
    by_alice = new_command("unfreeze", [target("route", "ops")], issuer="alice")
    assert send_command(router, sign(by_alice, ALICE, "alice-1"), wait=60)["result"] == "accepted"
    bad["wrong_issuer"] = sign(new_command("freeze", [target("route", "ops")], issuer="bob"), ALICE, "alice-1")
    results = {reason: send_command(router, command, wait=60) for reason, command in bad.items()}
    results["replayed"] = send_command(router, replayed, wait=60)
    revoke_key(router.data_dir / "operators.json", "alice-1")  # the worker re-reads the file: no restart
    revoked = sign(new_command("freeze", [target("route", "ops")], issuer="alice"), ALICE, "alice-1")
    results["revoked_key"] = send_command(router, revoked, wait=60)
    feed.send("commands", b"ops", b'{"action": "freeze"}')  # not even a command
    feed.flush()
    for reason, result in results.items():
        assert result is not None and (result["result"], result["reason"]) == ("rejected", reason), result
    assert "issued 2.0 h ago" in results["stale"]["detail"]

    expected = {*results, "schema_violation"}
    audit = read_topic(router, "command.results", lambda r: expected <= {x["reason"] for x in r}, timeout=60)
    assert {x["command_id"] for x in audit if x["result"] == "rejected"} >= {c["command_id"] for c in bad.values()}
    assert sum(1 for x in audit if x["result"] == "accepted") == 3  # the rollback, the first freeze, alice's unfreeze
    dead = read_topic(router, "deadletter", lambda r: expected <= {x["reason"] for x in r}, timeout=60)
    forged = next(d for d in dead if d["reason"] == "forged")
    assert serde.decode("commands", forged["original_value"])["issuer"] == "mallory"
    assert forged["source"] == "streams.router" and forged["original_topic"] == router.topic("commands")
    assert json.loads(
        next(d for d in dead if d["reason"] == "schema_violation" and d["original_topic"] == router.topic("commands"))[
            "original_value"
        ]
    ) == {"action": "freeze"}
