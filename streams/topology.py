"""The topology of the streams worker's Faust app: every topic and table it declares, in one place.

Values and keys are raw bytes (``schemas.Serde`` does the Avro); tables hold JSON-able dicts.
Agents read and write only what is declared here; internal topic names come from
``streams.internal``. A table is declared when the group of agents that owns it is registered
(its function is called at their import), so a worker running only some groups
(``--agents``) neither recovers nor owns the others' tables.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from faust.types import TopicT

from streams import internal
from streams.app import app, settings


def _raw(*names: str, partitions: int | None = None, internal_topic: bool = False) -> TopicT:
    return app.topic(
        *names,
        partitions=partitions,
        internal=internal_topic,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
    )


def _internal(name: str) -> TopicT:
    """A topic of this app only, co-partitioned with the inputs."""
    return _raw(name, partitions=settings.topic_partitions, internal_topic=True)


@cache
def _table(name: str, partitions: int | None = None) -> Any:
    return app.Table(name, default=None, partitions=partitions or settings.topic_partitions, key_type=str)


INFERENCE = settings.topic("inference.events")
FEEDBACK = settings.topic("feedback.events")
JOINED = settings.topic("joined.events")
TICKS = internal.join_ticks(settings)
UNLABELLED = internal.unlabelled(settings)
JOINED_BY_ROUTE = internal.joined_by_route(settings)

# -- catalog topics --------------------------------------------------------------------------
joined_events = _raw(JOINED)
metrics_snapshots = _raw(settings.topic("metrics.snapshots"))
profiles = _raw(settings.topic("profiles"))
profile_changes = _raw(settings.topic("profile.changes"))
model_versions = _raw(settings.topic("model.versions"))
commands = _raw(settings.topic("commands"))
command_results = _raw(settings.topic("command.results"))
deadletter = _raw(settings.topic("deadletter"))

# -- internal topics -------------------------------------------------------------------------
unlabelled = _internal(UNLABELLED)
joined_by_route = _internal(JOINED_BY_ROUTE)
router_input = _internal(internal.router_input(settings))

# -- what one agent reads from several topics ------------------------------------------------
join_source = _raw(INFERENCE, FEEDBACK, TICKS)
metrics_source = _raw(JOINED, UNLABELLED)
router_source = _raw(router_input.get_topic_name(), JOINED_BY_ROUTE)

# -- tables (each entry moves with its partition through the table's changelog) --------------


def join_state() -> Any:
    """Request id -> the join's state (``streams.join.logic``)."""
    return _table("join-state")


def metric_entries() -> Any:
    """Request id -> one counted prediction, and per version the archived counts (``streams.metrics``)."""
    return _table("metric-entries")


def router_routes() -> Any:
    """Route -> its routing state (``streams.router.state``)."""
    return _table("router-routes")


def router_evidence() -> Any:
    """Instance version -> its evidence (``streams.router.state``)."""
    return _table("router-evidence")


@cache
def profiling_state() -> Any:
    """Route (UTF-8 bytes) -> what its profiling must not forget: profile versions and change detection
    (``streams.profiling.agent``). Written by profile builds, outside stream iteration, so the
    producer's partitioner places each key: the partition of the route's joined events."""
    return app.Table(
        "profiling-state",
        default=None,
        partitions=settings.topic_partitions,
        key_type=bytes,
        use_partitioner=True,
    )


def command_ids() -> Any:
    """Command id -> the offset that brought it (one partition: every command id in one place)."""
    return _table("router-command-ids", partitions=1)
