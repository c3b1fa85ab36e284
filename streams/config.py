"""Settings of the streams worker: the shared ones plus what only the stream processors need."""

from __future__ import annotations

import re
from datetime import timedelta

from pydantic import Field

from infra.config import Settings


class StreamSettings(Settings):
    """Frozen; env prefix ``INSITU_`` like every insitu process.

    >>> StreamSettings(topic_prefix="t1.").app_id
    'insitu-streams-t1'
    """

    feedback_ttl: timedelta = Field(
        timedelta(hours=1),
        description="INSITU_FEEDBACK_TTL: how long an unmatched inference or feedback half waits (e.g. PT1H or 3600).",
    )
    snapshot_interval: float = Field(
        10.0, gt=0, description="INSITU_SNAPSHOT_INTERVAL: seconds between metric snapshots to metrics.snapshots."
    )
    routes_file: str | None = Field(
        None,
        description="INSITU_ROUTES_FILE: JSON file of route configurations (known routes, personal-data fields).",
    )
    streams_web_port: int | None = Field(
        None, description="INSITU_STREAMS_WEB_PORT: Faust's web server port; unset disables it."
    )
    processing_guarantee: str = Field(
        "at_least_once", description="INSITU_PROCESSING_GUARANTEE: Faust processing guarantee."
    )

    @property
    def app_id(self) -> str:
        """Faust app id (= consumer group and changelog topic prefix), distinct per topic prefix."""
        suffix = re.sub(r"[^A-Za-z0-9_-]+", "-", self.topic_prefix).strip("-")
        return f"insitu-streams-{suffix}" if suffix else "insitu-streams"
