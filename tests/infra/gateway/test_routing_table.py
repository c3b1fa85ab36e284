"""RoutingTable against the real broker, and its pure parts (RouteBook, RouteVector)."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter

import pytest

from infra.gateway import RouteBook, RoutingError, RoutingTable, Target
from infra.gateway.routing_table import RouteVector
from tests.infra.gateway.weights_log import WeightsLog, vector


def wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    msg = f"condition not met within {timeout}s"
    raise AssertionError(msg)


@pytest.mark.kafka
def test_a_late_gateway_is_ready_with_exactly_the_latest_vector_per_route(kafka_topics):
    log = WeightsLog(kafka_topics)
    rng = random.Random(5)
    expected = {}
    for epoch in range(1, 201):
        route = f"route-{rng.randrange(6)}"
        record = vector(route, epoch * 10, ("a", rng.randrange(1, 9), 0.7), ("b", 1, 0.3))
        log.send(route, record)
        expected[route] = record
        if epoch % 17 == 0:  # a stale vector (an older epoch, e.g. a zombie router) is dropped
            log.send(route, vector(route, epoch * 10 - 5, ("zombie", 1, 1.0)))
    log.send("route-3", None)  # removed
    expected.pop("route-3")
    log.send("route-4", None)  # removed, then back with a newer epoch
    log.send("route-4", expected["route-4"] | {"epoch": 5000})
    expected["route-4"] = expected["route-4"] | {"epoch": 5000}
    log.send("gone", None)  # a tombstone of a route never seen
    log.raw(b"route-9", b"not avro")  # skipped, counted
    log.flush()

    with RoutingTable(kafka_topics) as table:
        assert table.ready
        got = table.routes()
        assert sorted(got) == sorted(expected)
        for route, record in expected.items():
            assert got[route].epoch == record["epoch"]
            assert got[route].targets == tuple(Target(w["instance_id"], w["version"]) for w in record["weights"])
        assert table.stats.undecodable == 1 and table.stats.stale >= 10


@pytest.mark.kafka
def test_follows_updates_and_tombstones_and_tells_subscribers(kafka_topics):
    log = WeightsLog(kafka_topics)
    with RoutingTable(kafka_topics) as table:
        assert table.routes() == {}
        seen = []
        table.subscribe(lambda route, v: seen.append((route, None if v is None else v.epoch)))
        log.send("credit", vector("credit", 1, ("a", 1, 1.0)))
        log.flush()
        wait_for(lambda: table.vector("credit") is not None)
        assert table.choose("credit") == Target("a", 1)
        assert table.routes_of("a") == ["credit"] and table.routes_of("b") == []
        log.send("credit", vector("credit", 2, ("b", 4, 1.0)))
        log.send("credit", vector("credit", 1, ("a", 1, 1.0)))  # stale
        log.flush()
        wait_for(lambda: table.vector("credit").epoch == 2)
        assert table.choose("credit") == Target("b", 4)
        log.send("credit", None)
        log.flush()
        wait_for(lambda: table.vector("credit") is None)
        with pytest.raises(RoutingError, match="unknown route 'credit'"):
            table.choose("credit")
        assert seen == [("credit", 1), ("credit", 2), ("credit", None)]


@pytest.mark.kafka
def test_choose_is_safe_across_threads_while_vectors_change(kafka_topics):
    log = WeightsLog(kafka_topics)
    log.send("credit", vector("credit", 1, ("a", 1, 0.5), ("b", 1, 0.5)))
    log.flush()
    errors: list[BaseException] = []
    picks: Counter = Counter()
    stop = threading.Event()
    with RoutingTable(kafka_topics) as table:

        def hammer() -> None:
            try:
                while not stop.is_set():
                    picks[table.choose("credit")] += 1
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=hammer) for _ in range(4)]
        for thread in threads:
            thread.start()
        for epoch in range(2, 40):
            log.send("credit", vector("credit", epoch, ("a", epoch, 0.5), ("b", 1, 0.5)))
        log.flush()
        wait_for(lambda: table.vector("credit").epoch == 39)
        stop.set()
        for thread in threads:
            thread.join()
    assert not errors
    assert {t.instance_id for t in picks} == {"a", "b"} and sum(picks.values()) > 1000


@pytest.mark.kafka
def test_a_missing_topic_is_a_clear_error(kafka_settings):
    with pytest.raises(RoutingError, match=r"cannot follow .*routing\.weights.*insitu topics create"):
        RoutingTable(kafka_settings).start(timeout=5)


def test_picks_follow_the_weights_and_keys_are_sticky():
    book = RouteBook()
    book.apply("r", vector("r", 1, ("a", 1, 0.6), ("b", 2, 0.3), ("c", 1, 0.1), ("off", 1, 0.0)))
    route = book.routes["r"]
    rng = random.Random(3)
    counts = Counter(route.pick(rng.random()).instance_id for _ in range(20000))
    assert counts["a"] / 20000 == pytest.approx(0.6, abs=0.02)
    assert counts["c"] / 20000 == pytest.approx(0.1, abs=0.01)
    assert "off" not in counts
    assert route.pick(0.0).instance_id == "a" and route.pick(0.999999999).instance_id == "c"


def test_unnormalised_weights_and_empty_vectors():
    route = RouteVector.from_record(vector("r", 1, ("a", 1, 2.0), ("b", 1, 2.0)))
    assert route.pick(0.49).instance_id == "a" and route.pick(0.51).instance_id == "b"
    empty = RouteVector.from_record(vector("r", 2))
    with pytest.raises(RoutingError, match="no instance with a positive weight"):
        empty.pick(0.5)


def test_book_rules():
    book = RouteBook()
    assert book.apply("r", vector("r", 5, ("a", 1, 1.0))) == "applied"
    assert book.apply("r", vector("r", 5, ("b", 1, 1.0))) == "stale"  # a replay of the same epoch
    assert book.apply("r", None) == "removed"
    assert book.apply("r", None) == "ignored"
    assert book.apply("r", vector("r", 4, ("a", 1, 1.0))) == "stale"  # older than the removed one
    assert book.apply("r", vector("r", 6, ("a", 1, 1.0))) == "applied"
