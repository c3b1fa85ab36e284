"""Records a stream skipped are found from the committed offset on and read back from the broker."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from confluent_kafka import TopicPartition
from confluent_kafka.admin import NewTopic

from infra.kafka_clients import admin, consumer, producer
from streams.continuity import Continuity

pytestmark = pytest.mark.kafka


@pytest.fixture
def topic(kafka_settings):
    name = f"{kafka_settings.topic_prefix}continuity"
    client = admin(kafka_settings)
    client.create_topics([NewTopic(name, 1, 1)])[name].result(30)
    kafka = producer(kafka_settings)
    for i in range(10):
        kafka.produce(name, key=b"k", value=f"v{i}".encode(), partition=0)
    assert kafka.flush(30) == 0
    return name


def commit(settings, group, topic, offset):
    kafka = consumer(settings, group)
    try:
        kafka.commit(offsets=[TopicPartition(topic, 0, offset)], asynchronous=False)
    finally:
        kafka.close()


def test_skipped_offsets_are_read_back_from_the_committed_offset_on(kafka_settings, topic):
    group = f"g-{uuid.uuid4().hex[:8]}"
    commit(kafka_settings, group, topic, 3)
    continuity = Continuity(kafka_settings, group=group, topic=topic)

    async def run():
        first = await continuity.missing(0, 3)  # the stream starts where the group committed
        gap = await continuity.missing(0, 7)  # 4, 5, 6 never reached the stream
        replay = await continuity.missing(0, 5)  # a seek back is not a gap
        continuity.forget()  # revoked and given back: resume after the last this worker processed, 7
        kept = await continuity.missing(0, 9)
        return first, gap, replay, kept

    first, gap, replay, kept = asyncio.run(run())
    assert first == [] and replay == []
    assert [(r.offset, r.value) for r in gap] == [(4, b"v4"), (5, b"v5"), (6, b"v6")]
    assert [r.offset for r in kept] == [8], "not from the committed offset 3: this worker processed up to 7"
    assert all(r.topic == topic and r.partition == 0 and r.key == b"k" for r in gap + kept)


def test_a_partition_another_worker_had_resumes_from_the_committed_offset(kafka_settings, topic):
    group = f"g-{uuid.uuid4().hex[:8]}"
    continuity = Continuity(kafka_settings, group=group, topic=topic)

    async def run():
        await continuity.missing(0, 0)
        await continuity.missing(0, 1)
        continuity.forget()  # revoked; another worker processes 2..5 and commits 6; given back
        commit(kafka_settings, group, topic, 6)
        return await continuity.missing(0, 8)

    assert [r.offset for r in asyncio.run(run())] == [6, 7]


def test_a_group_without_commits_has_no_gap_at_its_first_record(kafka_settings, topic):
    continuity = Continuity(kafka_settings, group=f"g-{uuid.uuid4().hex[:8]}", topic=topic)
    assert asyncio.run(continuity.missing(0, 6)) == []


def test_outside_its_window_after_a_rebalance_no_hole_is_looked_for(kafka_settings, topic):
    group = f"g-{uuid.uuid4().hex[:8]}"
    commit(kafka_settings, group, topic, 3)
    continuity = Continuity(kafka_settings, group=group, topic=topic, window=0.0)

    async def run():
        return await continuity.missing(0, 3), await continuity.missing(0, 7)

    assert asyncio.run(run()) == ([], []), "a transaction marker's hole costs nothing once the window has passed"
