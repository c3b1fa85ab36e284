"""Settings of the analytics sink: the shared ones plus batching, group and retry knobs."""

from __future__ import annotations

from pydantic import Field

from infra.config import Settings


class SinkSettings(Settings):
    """Frozen; env prefix ``INSITU_`` like every insitu process.

    >>> SinkSettings(topic_prefix="t1.").group_id
    'insitu-sink-t1'
    >>> SinkSettings().group_id, SinkSettings(sink_group_id="mine").group_id
    ('insitu-sink', 'mine')
    >>> SinkSettings().sink_batch_rows, SinkSettings().sink_batch_seconds
    (5000, 1.0)
    """

    sink_batch_rows: int = Field(
        5000, ge=1, description="INSITU_SINK_BATCH_ROWS: flush once this many rows are buffered (all tables together)."
    )
    sink_batch_seconds: float = Field(
        1.0,
        gt=0,
        description="INSITU_SINK_BATCH_SECONDS: flush at the latest this long after the first buffered message.",
    )
    sink_group_id: str | None = Field(
        None,
        description="INSITU_SINK_GROUP_ID: the sink's consumer group; default insitu-sink plus the topic prefix.",
    )
    sink_retry_max_seconds: float = Field(
        30.0, gt=0, description="INSITU_SINK_RETRY_MAX_SECONDS: longest wait between two ClickHouse retries."
    )
    sink_shutdown_seconds: float = Field(
        30.0,
        ge=0,
        description="INSITU_SINK_SHUTDOWN_SECONDS: how long the final flush keeps retrying an unavailable ClickHouse "
        "before exiting with the rows unwritten (their offsets stay uncommitted, so they are replayed).",
    )

    @property
    def group_id(self) -> str:
        """The consumer group: ``INSITU_SINK_GROUP_ID``, else one per topic prefix (isolated deployments)."""
        if self.sink_group_id:
            return self.sink_group_id
        return self.group("sink")
