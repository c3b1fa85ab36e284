"""The topology of the streams worker's Faust app: every topic and table it declares, in one place.

Values and keys are raw bytes (``schemas.Serde`` does the Avro); tables hold JSON-able dicts.
Agents read and write only what is declared here; internal topic names come from
``streams.internal``.
"""

from __future__ import annotations

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


def _table(name: str, partitions: int | None = None) -> Any:
    return app.Table(name, default=None, partitions=partitions or settings.topic_partitions, key_type=str)


INFERENCE = settings.topic("inference.events")
FEEDBACK = settings.topic("feedback.events")
JOINED = settings.topic("joined.events")
TICKS = internal.join_ticks(settings)
UNLABELLED = internal.unlabelled(settings)

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
profile_input = _internal(internal.profile_input(settings))
router_input = _internal(internal.router_input(settings))

# -- what one agent reads from several topics ------------------------------------------------
join_source = _raw(INFERENCE, FEEDBACK, TICKS)
metrics_source = _raw(JOINED, UNLABELLED)

# -- tables (each entry moves with its partition through the table's changelog) --------------
join_state = _table("join-state")  # request id -> the join's state (streams.join.logic)
metric_entries = _table("metric-entries")  # request id -> one counted prediction (streams.metrics)
router_routes = _table("router-routes")  # route -> its routing state (streams.router.state)
router_evidence = _table("router-evidence")  # instance version -> its evidence (streams.router.state)
command_ids = _table("router-command-ids", partitions=1)  # command id -> the offset that brought it
