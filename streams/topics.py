"""The catalog topics as Faust sees them: raw bytes in and out; ``schemas.Serde`` does the Avro."""

from __future__ import annotations

from faust.types import TopicT

from streams.app import app, settings


def _topic(name: str) -> TopicT:
    return app.topic(
        settings.topic(name), key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )


def internal_topic(name: str) -> TopicT:
    """A topic of this app only (co-partitioned with the inputs), raw bytes in and out."""
    return app.topic(
        name,
        partitions=settings.topic_partitions,
        internal=True,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
    )


inference_events = _topic("inference.events")
feedback_events = _topic("feedback.events")
joined_events = _topic("joined.events")
metrics_snapshots = _topic("metrics.snapshots")
profiles = _topic("profiles")
profile_changes = _topic("profile.changes")
model_versions = _topic("model.versions")
routing_weights = _topic("routing.weights")
commands = _topic("commands")
command_results = _topic("command.results")
deadletter = _topic("deadletter")
