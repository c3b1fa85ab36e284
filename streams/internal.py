"""Names and specs of the streams worker's internal topics, all in one place.

Each is co-partitioned with the input topics (``INSITU_TOPIC_PARTITIONS``) and named after the
app id, so deployments sharing a cluster under different topic prefixes keep them apart. The
changelogs of the worker's tables are Faust's own.

>>> from streams.config import StreamSettings
>>> router_input(StreamSettings(topic_prefix="t1."))
'insitu-streams-t1-router-input'
"""

from __future__ import annotations

from confluent_kafka.admin import NewTopic

from streams.config import StreamSettings

HOUR_MS = 3_600_000


def join_ticks(settings: StreamSettings) -> str:
    """Ticks that wake the join's partitions so expired requests leave its table (``streams.ticks``)."""
    return f"{settings.app_id}-join-ticks"


def unlabelled(settings: StreamSettings) -> str:
    """Notices of inferences whose label never came, from the join to the metrics."""
    return f"{settings.app_id}-unlabelled"


def joined_by_route(settings: StreamSettings) -> str:
    """Joined events keyed by route, sent by the join beside ``joined.events``: each route's
    instances reach one profiler and one router."""
    return f"{settings.app_id}-joined-by-route"


def router_input(settings: StreamSettings) -> str:
    """Every snapshot, version event and command, keyed by route, for the router."""
    return f"{settings.app_id}-router-input"


RETENTION_HOURS = {join_ticks: 1, unlabelled: 168, joined_by_route: 24, router_input: 24}


def internal_topics(settings: StreamSettings) -> list[NewTopic]:
    """What to create before the worker starts (``infra.topics.create_topics`` sets their replication)."""
    return [
        NewTopic(name(settings), settings.topic_partitions, config={"retention.ms": str(hours * HOUR_MS)})
        for name, hours in RETENTION_HOURS.items()
    ]
