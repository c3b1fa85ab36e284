"""A small, known history of the analytics tables, written through the sink's mappings.

Route ``credit``: ``credit-a`` serves v3, is fine-tuned into v4 (candidate, promoted, then
rolled back to v3); ``credit-b`` serves v2, its fine-tune v3 is rejected. Route ``fraud``:
``fraud-a``. Every number the tests assert follows from the rows below.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from clickhouse_connect.driver.client import Client

from infra.clickhouse import insert_rows
from schemas import Serde, to_json
from streams.sink.mapping import to_rows
from tests.samples import SAMPLES, SLICE

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
SERDE = Serde()

GATE_A = {
    "slice_rows": 200.0,
    "slice_accuracy_old": 0.55,
    "slice_accuracy_new": 0.85,
    "complement_rows": 800.0,
    "complement_accuracy_old": 0.9,
    "complement_accuracy_new": 0.89,
    "negative_flip_rate": 0.02,
}
GATE_B = {
    "slice_rows": 150.0,
    "slice_accuracy_old": 0.5,
    "slice_accuracy_new": 0.52,
    "complement_rows": 600.0,
    "complement_accuracy_old": 0.95,
    "complement_accuracy_new": 0.8,
    "negative_flip_rate": 0.1,
}


def at(minutes: float = 0, seconds: float = 0) -> datetime:
    return T0 + timedelta(minutes=minutes, seconds=seconds)


class Batch:
    """Rows per table, made from topic records as the sink makes them; ``write`` inserts each table once."""

    def __init__(self) -> None:
        self.tables: dict[str, list[dict[str, Any]]] = defaultdict(list)

    def add(self, topic: str, **fields: Any) -> None:
        """One record of ``topic``: its sample with ``fields``, decoded and mapped."""
        record = SERDE.from_json(topic, to_json(SERDE.from_json(topic, SAMPLES[topic])) | to_json(fields))
        table, rows = to_rows(topic, record)
        self.tables[table].extend(rows)

    def write(self, client: Client) -> None:
        for table, rows in self.tables.items():
            insert_rows(client, table, rows)


def joined(batch: Batch, request_id: str, instance: str, version: int, ts: datetime, correct: bool, **more: Any):
    batch.add(
        "joined.events",
        request_id=request_id,
        instance_id=instance,
        model_version=version,
        inference_ts=ts,
        feedback_ts=ts + timedelta(seconds=5),
        correct=correct,
        **more,
    )


def version(batch: Batch, event_id: str, instance: str, number: int, status: str, ts: datetime, **more: Any):
    fields = {"parent_version": None, "metrics": {}, "reason": status} | more
    batch.add(
        "model.versions",
        event_id=event_id,
        instance_id=instance,
        version=number,
        status=status,
        ts=ts,
        **fields,
    )


def weights(batch: Batch, route: str, epoch: int, ts: datetime, entries: list[tuple[str, int, float, str]]):
    vector = [{"instance_id": i, "version": v, "weight": w, "role": role} for i, v, w, role in entries]
    batch.add("routing.weights", route=route, epoch=epoch, ts=ts, reason=f"epoch {epoch}", weights=vector)


def command(
    batch: Batch, command_id: str, action: str, target: dict[str, Any], ts: datetime, result: str, reason: str = ""
):
    batch.add(
        "command.results",
        command_id=command_id,
        action=action,
        targets=[target],
        issued_ts=ts,
        received_ts=ts,
        result=result,
        reason=reason,
        detail=reason or "done",
    )


def dead(batch: Batch, topic: str, offset: int, reason: str, ts: datetime) -> None:
    batch.add(
        "deadletter",
        original_topic=topic,
        original_offset=offset,
        reason=reason,
        detail=f"{reason} #{offset}",
        ts=ts,
    )


def write_history(client: Client) -> None:
    """The whole history; credit-a's first ten events and one dead letter are written twice (a replay
    after a restart: a second insert, which FINAL collapses)."""
    replay = Batch()
    for i in range(10):  # 10:00:00..10:01:30, v3: the first six right (10:00 bucket), the rest wrong
        joined(replay, f"a-{i}", "credit-a", 3, at(seconds=10 * i), i < 6)
    dead(replay, "inference.events", 1, "undecodable", at(10, 1))
    replay.write(client)

    batch = Batch()
    batch.tables.update({table: list(rows) for table, rows in replay.tables.items()})
    for i in range(10):  # 11:00:00..11:01:30, v4: nine of ten right
        joined(batch, f"a2-{i}", "credit-a", 4, at(60, 10 * i), i < 9)
    for i in range(5):  # 10:30, v2: all right
        joined(batch, f"b-{i}", "credit-b", 2, at(30, 10 * i), True)
    for i in range(2):  # another route
        joined(batch, f"f-{i}", "fraud-a", 1, at(45, i), i == 0, route="fraud")

    worst = SLICE | {"description": "age < 30", "error": 0.5, "support": 40}
    batch.add("profiles", instance_id="credit-a", profile_version=7, created_ts=at(5), slices=[worst, SLICE])
    batch.add("profiles", instance_id="credit-a", profile_version=8, created_ts=at(50), slices=[])

    version(batch, "e1", "credit-a", 4, "candidate", at(40), parent_version=3, metrics=GATE_A, reason="fine-tuned")
    version(batch, "e2", "credit-a", 4, "promoted", at(55), reason="canary passed")
    version(batch, "e3", "credit-a", 4, "rolled_back", at(80), reason="rollback by alice")
    version(batch, "e4", "credit-a", 3, "promoted", at(80), reason="restored by alice")
    version(batch, "e5", "credit-b", 3, "rejected", at(45), parent_version=2, metrics=GATE_B, reason="gate failed")

    weights(batch, "credit", 1, at(0), [("credit-a", 3, 0.5, "stable"), ("credit-b", 2, 0.5, "stable")])
    weights(
        batch,
        "credit",
        2,
        at(40),
        [("credit-a", 3, 0.4, "stable"), ("credit-a", 4, 0.1, "canary"), ("credit-b", 2, 0.5, "stable")],
    )
    weights(batch, "credit", 3, at(55), [("credit-a", 4, 0.5, "stable"), ("credit-b", 2, 0.5, "stable")])
    weights(batch, "credit", 4, at(80), [("credit-a", 3, 0.5, "stable"), ("credit-b", 2, 0.5, "stable")])
    weights(batch, "fraud", 1, at(0), [("fraud-a", 1, 3.0, "stable"), ("fraud-b", 1, 1.0, "stable")])

    command(batch, "cmd-1", "rollback", {"kind": "instance", "name": "credit-a", "version": 3}, at(80), "accepted")
    command(
        batch,
        "cmd-2",
        "freeze",
        {"kind": "route", "name": "credit", "version": None},
        at(81),
        "rejected",
        "bad_signature",
    )
    command(batch, "cmd-3", "pin", {"kind": "instance", "name": "credit-b", "version": 2}, at(82), "rejected", "stale")

    for offset in (2, 3):
        dead(batch, "inference.events", offset, "undecodable", at(10, offset))
    dead(batch, "feedback.events", 9, "unknown_request", at(20))

    for i, (behind, delay) in enumerate([(0, 100), (500, 2_400), (20, 300)]):  # the join, one process
        batch.add("stage.lag", stage="join", worker="w:1", ts=at(0, 5 * i), messages_behind=behind, delay_max_ms=delay)
    batch.add("stage.lag", stage="join", worker="w:2", ts=at(0, 5), messages_behind=7, delay_max_ms=None)
    batch.add("stage.lag", stage="sink", worker="w:3", ts=at(0, 5), messages_behind=3, delay_max_ms=900)
    batch.write(client)
