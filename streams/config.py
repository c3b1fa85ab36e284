"""Settings of the streams worker: the shared ones plus what only the stream processors need."""

from __future__ import annotations

import itertools
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator

from infra.commands import check_key, check_keys
from infra.config import Settings
from infra.operator_keys import PublicKeysFile


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
    session_timeout: float = Field(
        60.0, gt=0, description="INSITU_SESSION_TIMEOUT: seconds before a silent worker's partitions move."
    )
    profile_build_share: float = Field(
        0.5,
        gt=0,
        le=1,
        description="INSITU_PROFILE_BUILD_SHARE: the most of its time a route's profile builds may take: after a "
        "build of d seconds the route's next one waits d * (1 - share) / share, so the event path keeps the rest.",
    )
    # -- router (streams.router) -------------------------------------------------------------
    router_floor: float = Field(
        0.05, ge=0, lt=1, description="INSITU_ROUTER_FLOOR: the least traffic share of every live instance."
    )
    router_cap: float = Field(
        0.8, gt=0, le=1, description="INSITU_ROUTER_CAP: the most traffic share of an instance that is not alone."
    )
    router_temperature: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="INSITU_ROUTER_TEMPERATURE: soften the weights: an instance d below the best accuracy scores "
        "exp(-d / T) of the best (0: shares follow the probability of being best).",
    )
    router_half_life: float = Field(
        0.0,
        ge=0,
        description="INSITU_ROUTER_HALF_LIFE: seconds after which an outcome weighs half in the weights' "
        "accuracy estimates, so they follow a drift (0: every outcome of the version counts alike). "
        "Canary decisions always count every outcome.",
    )
    router_interval: float = Field(
        5.0, gt=0, description="INSITU_ROUTER_INTERVAL: seconds between evaluations (weights, canaries) of a route."
    )
    router_min_change: float = Field(
        0.02, ge=0, description="INSITU_ROUTER_MIN_CHANGE: publish new weights only when one moves by this much."
    )
    router_instance_ttl: float = Field(
        86400.0, gt=0, description="INSITU_ROUTER_INSTANCE_TTL: seconds without evidence before an instance leaves."
    )
    router_draws: int = Field(
        20000, ge=1000, description="INSITU_ROUTER_DRAWS: Monte Carlo draws from the Beta posteriors per estimate."
    )
    canary_steps: list[float] = Field(
        [0.05, 0.1, 0.25, 0.5],
        description="INSITU_CANARY_STEPS: JSON list of the canary's shares of its instance's traffic, in ramp order.",
    )
    canary_step_samples: int = Field(
        50, ge=1, description="INSITU_CANARY_STEP_SAMPLES: labelled canary samples per ramp step."
    )
    canary_min_samples: int = Field(
        30, ge=1, description="INSITU_CANARY_MIN_SAMPLES: samples of canary and parent before any decision."
    )
    canary_noninferior_samples: int = Field(
        300, ge=1, description="INSITU_CANARY_NONINFERIOR_SAMPLES: samples after which 'not worse' may promote."
    )
    canary_margin: float = Field(
        0.02, ge=0, lt=1, description="INSITU_CANARY_MARGIN: accuracy a candidate may lose and still be 'not worse'."
    )
    canary_confidence: float = Field(
        0.95, gt=0.5, lt=1, description="INSITU_CANARY_CONFIDENCE: posterior probability needed to promote."
    )
    rollback_confidence: float = Field(
        0.95, gt=0.5, lt=1, description="INSITU_ROLLBACK_CONFIDENCE: posterior probability of 'worse' that rolls back."
    )
    canary_slice_min_samples: int = Field(
        20, ge=1, description="INSITU_CANARY_SLICE_MIN_SAMPLES: samples in the target slice before it counts."
    )
    canary_max_samples: int = Field(
        5000, ge=1, description="INSITU_CANARY_MAX_SAMPLES: an undecided canary is rejected after this many samples."
    )
    command_key: SecretStr | None = Field(
        None, description="INSITU_COMMAND_KEY: HMAC-SHA256 key of operator commands (>= 16 characters)."
    )
    command_key_id: str = Field("default", description="INSITU_COMMAND_KEY_ID: the id of INSITU_COMMAND_KEY.")
    command_keys: SecretStr = Field(
        SecretStr("{}"),
        description="INSITU_COMMAND_KEYS: JSON object of further key id -> key accepted when verifying (rotation).",
    )
    command_public_keys_file: Path | None = Field(
        None,
        description="INSITU_COMMAND_PUBLIC_KEYS_FILE: the operators' Ed25519 public keys and revoked key ids (JSON, "
        "re-read when it changes; see infra/operator_keys.py).",
    )
    command_max_age: float = Field(
        300.0, gt=0, description="INSITU_COMMAND_MAX_AGE: seconds after its issue time a command is stale."
    )
    command_max_skew: float = Field(
        30.0, ge=0, description="INSITU_COMMAND_MAX_SKEW: seconds a command's issue time may lie in the future."
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

    @field_validator("command_key")
    @classmethod
    def _command_key(cls, value: SecretStr | None) -> SecretStr | None:
        return check_key(value)

    @field_validator("command_keys")
    @classmethod
    def _command_keys(cls, value: SecretStr) -> SecretStr:
        return check_keys(value)

    @field_validator("command_public_keys_file")
    @classmethod
    def _public_keys(cls, value: Path | None) -> Path | None:
        if value is not None:
            PublicKeysFile(value).current()  # a clear error at start rather than every command refused
        return value

    @field_validator("canary_steps")
    @classmethod
    def _canary_steps(cls, value: list[float]) -> list[float]:
        if not value or any(not 0 < s <= 1 for s in value) or any(b <= a for a, b in itertools.pairwise(value)):
            msg = f"INSITU_CANARY_STEPS must be increasing shares in (0, 1], got {value}"
            raise ValueError(msg)
        return value

    @property
    def app_id(self) -> str:
        """Faust app id (= consumer group and changelog topic prefix), distinct per topic prefix."""
        return self.group("streams")


def default(name: str) -> Any:
    """The default of the ``StreamSettings`` field ``name``: the one place a hyperparameter's default lives.

    >>> default("router_floor"), default("canary_steps")
    (0.05, [0.05, 0.1, 0.25, 0.5])
    """
    return StreamSettings.model_fields[name].default
