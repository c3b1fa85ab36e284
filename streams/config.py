"""Settings of the streams worker: the shared ones plus what only the stream processors need."""

from __future__ import annotations

import re
from datetime import timedelta

from pydantic import Field, SecretStr, field_validator

from infra.config import Settings


class StreamSettings(Settings):
    """Frozen; env prefix ``INSITU_`` like every insitu process.

    >>> StreamSettings(topic_prefix="t1.").app_id
    'insitu-streams-t1'
    >>> StreamSettings(feedback_ttl="90s").feedback_ttl.total_seconds(), StreamSettings(feedback_ttl="1h").feedback_ttl
    (90.0, datetime.timedelta(seconds=3600))
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
    pii_salt: SecretStr = Field(
        SecretStr(""),
        description="INSITU_PII_SALT: secret salt for hashing personal-data fields before they leave the join.",
    )
    streams_web_port: int | None = Field(
        None, description="INSITU_STREAMS_WEB_PORT: Faust's web server port; unset disables it."
    )
    processing_guarantee: str = Field(
        "exactly_once",
        description="INSITU_PROCESSING_GUARANTEE: exactly_once (Kafka transactions: no join lost or counted twice "
        "across restarts) or at_least_once.",
    )

    @field_validator("feedback_ttl", mode="before")
    @classmethod
    def _duration(cls, value: object) -> object:
        """Accept seconds (``90``), shorthand (``45s``, ``30m``, ``1h``) or ISO-8601 (``PT1H``)."""
        if isinstance(value, str):
            match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", value)
            if match:
                unit = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
                return timedelta(seconds=float(match.group(1)) * unit)
        return value

    @property
    def app_id(self) -> str:
        """Faust app id (= consumer group and changelog topic prefix), distinct per topic prefix."""
        suffix = re.sub(r"[^A-Za-z0-9_-]+", "-", self.topic_prefix).strip("-")
        return f"insitu-streams-{suffix}" if suffix else "insitu-streams"
