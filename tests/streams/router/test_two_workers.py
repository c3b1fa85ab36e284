"""Two router workers split the routes; one is killed and the other carries on with its state."""

from __future__ import annotations

import random
import time
import uuid
from collections import defaultdict

import pytest
from aiokafka.partitioner import murmur2
from confluent_kafka.admin import AdminClient

from infra.app.command_cli import send_command
from infra.commands import new_command, sign, target
from infra.config import Settings
from infra.gateway import RoutingTable
from streams.config import StreamSettings
from tests.streams.router.process import COMMAND_KEY, Feed, RouterProcess
from tests.streams.test_recovery import _wait_for_members
from tests.streams.worker_process import read_topic, worker_env

pytestmark = pytest.mark.kafka
PARTITIONS = 4


def one_route_per_partition() -> list[str]:
    """Route names whose keys land on every partition of the router's input topic."""
    chosen: dict[int, str] = {}
    for i in range(100):
        name = f"route-{i}"
        chosen.setdefault((murmur2(name.encode()) & 0x7FFFFFFF) % PARTITIONS, name)
    return [chosen[p] for p in range(PARTITIONS)]


def test_two_workers_share_routes_and_a_survivor_keeps_their_state(quiet_broker, tmp_path):
    settings = Settings(
        data_dir=tmp_path,
        kafka_bootstrap=quiet_broker,
        topic_prefix=f"t{uuid.uuid4().hex[:10]}.",
        topic_partitions=PARTITIONS,
    )
    env = worker_env(
        settings,
        INSITU_SESSION_TIMEOUT="8",
        INSITU_ROUTER_INTERVAL="1",
        INSITU_ROUTER_DRAWS="4000",
        INSITU_COMMAND_KEY=COMMAND_KEY,
        INSITU_COMMAND_KEY_ID="ops",
    )
    first = RouterProcess(env, tmp_path / "first.log").start()
    second = RouterProcess(env, tmp_path / "second.log").start()
    try:
        group = StreamSettings(topic_prefix=settings.topic_prefix).app_id
        _wait_for_members(AdminClient({"bootstrap.servers": settings.kafka_bootstrap}), group, 2)
        routes = one_route_per_partition()
        feed, rng = Feed(settings), random.Random(4)
        for route in routes:
            for _ in range(40):
                feed.joined(route, f"{route}-a", 1, rng.random() < 0.9)
                feed.joined(route, f"{route}-b", 1, rng.random() < 0.6)
        feed.flush()
        with RoutingTable(settings) as table:
            deadline = time.monotonic() + 90
            while any(table.vector(r) is None or len(table.vector(r).targets) != 2 for r in routes):
                assert time.monotonic() < deadline, f"not every route got weights: {table.routes()}"
                time.sleep(0.2)
            for route in routes:
                feed.version(route, f"{route}-a", 2, "promoted")
            feed.flush()
            deadline = time.monotonic() + 60
            while any((f"{r}-a", 2) not in table.vector(r).versions() for r in routes):
                assert time.monotonic() < deadline, f"not every route serves v2: {table.routes()}"
                time.sleep(0.2)

        published = {name: p.log.read_text() for name, p in (("first", first), ("second", second))}
        assert all(any(f"routing.weights {r} " in text for r in routes) for text in published.values()), (
            "both workers own some routes"
        )
        freeze = sign(new_command("freeze", [target("route", routes[0])], issuer="t"), COMMAND_KEY, "ops")
        assert send_command(settings, freeze, wait=60)["result"] == "accepted"

        second.kill()  # without a chance to commit or hand over
        for route in routes:  # the rollback needs each route's history: recovered from the changelog
            command = sign(new_command("rollback", [target("instance", f"{route}-a")], issuer="t"), COMMAND_KEY, "ops")
            result = send_command(settings, command, wait=120)
            assert result is not None and result["result"] == "accepted", f"{route}: {result}\n{first.tail(60)}"
            assert "v2 rolled back; serving v1" in result["detail"]
        replay = send_command(settings, freeze, wait=60)
        assert replay is not None and replay["reason"] == "replayed", "seen command ids survive too"

        vectors = read_topic(settings, "routing.weights", lambda r: True)
        epochs: dict[str, list[int]] = defaultdict(list)
        for vector in vectors:
            epochs[vector["route"]].append(vector["epoch"])
        for route in routes:
            assert epochs[route] == sorted(set(epochs[route])), f"{route}: epochs out of order {epochs[route]}"
        frozen = [v for v in vectors if v["route"] == routes[0]][-1]
        assert frozen["frozen"] is True and {(w["instance_id"], w["version"]) for w in frozen["weights"]} == {
            (f"{routes[0]}-a", 1),
            (f"{routes[0]}-b", 1),
        }
    finally:
        first.stop()
        second.stop()
