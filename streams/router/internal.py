"""Names and specs of the router's internal topic (its tables' changelogs are Faust's own)."""

from __future__ import annotations

from confluent_kafka.admin import NewTopic

from streams.config import StreamSettings

HOUR_MS = 3_600_000


def input_topic(settings: StreamSettings) -> str:
    """The router's input: every joined event, snapshot, version event and command, keyed by route."""
    return f"{settings.app_id}-router-input"


def internal_topics(settings: StreamSettings) -> list[NewTopic]:
    """Topics to create before the worker starts (``streams.worker`` creates the join's the same way)."""
    return [
        NewTopic(
            input_topic(settings),
            settings.topic_partitions,
            settings.topic_replication,
            config={"retention.ms": str(24 * HOUR_MS)},
        )
    ]
