"""Settings for every insitu process, read from ``INSITU_*`` environment variables."""

from __future__ import annotations

import json
import os
import re
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """One frozen configuration object; secrets are ``SecretStr`` and print redacted.

    Defaults run everything on one machine with no set-up: data under
    ``./.insitu``, an embedded Kafka broker and embedded ClickHouse (chDB).

    >>> s = Settings(kafka_sasl_password="hunter2")
    >>> "hunter2" in repr(s)
    False
    >>> s.topic("inference.events")
    'inference.events'
    """

    model_config = SettingsConfigDict(env_prefix="INSITU_", frozen=True, extra="ignore")

    data_dir: Path = Field(
        Path(".insitu"),
        description="INSITU_DATA_DIR: where the embedded broker, ClickHouse and the registry keep their data.",
    )
    kafka_bootstrap: str | None = Field(
        None,
        description="INSITU_KAFKA_BOOTSTRAP: bootstrap servers of an existing cluster; when set, no broker is started.",
    )
    kafka_port: int = Field(
        9092, description="INSITU_KAFKA_PORT: client port of the embedded broker (its controller uses the next port)."
    )
    kafka_heap: str = Field("512m", description="INSITU_KAFKA_HEAP: JVM heap of the embedded broker.")
    kafka_jars_dir: Path | None = Field(
        None,
        description="INSITU_KAFKA_JARS_DIR: broker jars from Maven Central; default ~/.cache/insitu/kafka-jars.",
    )
    kafka_security_protocol: str | None = Field(
        None, description="INSITU_KAFKA_SECURITY_PROTOCOL: security.protocol (PLAINTEXT, SSL, SASL_SSL, ...)."
    )
    kafka_sasl_mechanism: str | None = Field(None, description="INSITU_KAFKA_SASL_MECHANISM: sasl.mechanism.")
    kafka_sasl_username: str | None = Field(None, description="INSITU_KAFKA_SASL_USERNAME: sasl.username.")
    kafka_sasl_password: SecretStr | None = Field(None, description="INSITU_KAFKA_SASL_PASSWORD: sasl.password.")
    kafka_ssl_ca_location: str | None = Field(None, description="INSITU_KAFKA_SSL_CA_LOCATION: ssl.ca.location.")
    kafka_ssl_certificate_location: str | None = Field(
        None, description="INSITU_KAFKA_SSL_CERTIFICATE_LOCATION: ssl.certificate.location."
    )
    kafka_ssl_key_location: str | None = Field(None, description="INSITU_KAFKA_SSL_KEY_LOCATION: ssl.key.location.")
    kafka_ssl_key_password: SecretStr | None = Field(
        None, description="INSITU_KAFKA_SSL_KEY_PASSWORD: ssl.key.password."
    )
    kafka_client_config: SecretStr = Field(
        SecretStr("{}"),
        description="INSITU_KAFKA_CLIENT_CONFIG: JSON object of extra librdkafka settings passed to every client.",
    )
    topic_prefix: str = Field(
        "", description="INSITU_TOPIC_PREFIX: prepended to every topic name (one cluster, several deployments)."
    )
    topic_partitions: int = Field(
        6, ge=1, description="INSITU_TOPIC_PARTITIONS: partitions of the event topics (inference and feedback alike)."
    )
    topic_replication: int | None = Field(
        None,
        ge=1,
        description="INSITU_TOPIC_REPLICATION: replication factor of new topics; default: 3 (with min.insync.replicas "
        "2) when three or more brokers answer, else 1.",
    )
    schema_registry_url: str | None = Field(
        None, description="INSITU_SCHEMA_REGISTRY_URL: Confluent Schema Registry; unset: the embedded registry."
    )
    schema_registry_basic_auth: SecretStr | None = Field(
        None, description="INSITU_SCHEMA_REGISTRY_BASIC_AUTH: 'user:password' for the Schema Registry."
    )
    clickhouse_dsn: SecretStr | None = Field(
        None,
        description="INSITU_CLICKHOUSE_DSN: a ClickHouse server DSN; default chdb:///<data_dir>/clickhouse (embedded).",
    )
    registry_uri: str | None = Field(
        None,
        description="INSITU_REGISTRY_URI: the model registry (a local path or an fsspec URI prefix); "
        "default <data_dir>/registry.",
    )
    # -- bounds on input (schemas.limits) and on what insitu writes ---------------------------
    max_message_bytes: int = Field(
        262_144, ge=1024, description="INSITU_MAX_MESSAGE_BYTES: the largest input value accepted (too_large)."
    )
    max_depth: int = Field(
        8,
        ge=3,
        le=64,
        description="INSITU_MAX_DEPTH: the deepest nesting of objects and arrays in an input (too_deep).",
    )
    max_entries: int = Field(
        4_096, ge=1, description="INSITU_MAX_ENTRIES: the most entries of one map or array in an input (too_many)."
    )
    max_string_chars: int = Field(
        1_024, ge=16, description="INSITU_MAX_STRING_CHARS: the longest string or map key in an input (too_long)."
    )
    max_id_chars: int = Field(
        256,
        ge=16,
        description="INSITU_MAX_ID_CHARS: the longest request_id, route, instance_id or command_id (too_long).",
    )
    max_record_bytes: int = Field(
        1_000_000,
        ge=1024,
        description="INSITU_MAX_RECORD_BYTES: the largest record insitu sends (key and value); a larger one is not "
        "sent and the input that made it is dead-lettered as too_large. Keep it at or below the topics' "
        "max.message.bytes.",
    )
    dead_letter_max_bytes: int = Field(
        65_536,
        ge=0,
        description="INSITU_DEAD_LETTER_MAX_BYTES: the most bytes of an original key or value kept in a dead letter "
        "(the rest is cut; the dead letter records the full length).",
    )
    lag_interval: float = Field(
        5.0, gt=0, description="INSITU_LAG_INTERVAL: seconds between the stage.lag records of each stage of a process."
    )

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @field_validator("kafka_client_config")
    @classmethod
    def _json_object(cls, value: SecretStr) -> SecretStr:
        try:
            parsed = json.loads(value.get_secret_value())
        except json.JSONDecodeError as exc:
            msg = f"INSITU_KAFKA_CLIENT_CONFIG is not JSON: {exc}"
            raise ValueError(msg) from exc
        if not isinstance(parsed, dict):
            msg = "INSITU_KAFKA_CLIENT_CONFIG must be a JSON object"
            raise ValueError(msg)
        return value

    def topic(self, name: str) -> str:
        """The physical topic name of a catalog topic."""
        return f"{self.topic_prefix}{name}"

    def environment(self) -> dict[str, str]:
        """``INSITU_*`` variables that give a child process the same broker, topics and data dir.

        >>> Settings(topic_prefix="t1.", kafka_bootstrap="k:9092").environment()["INSITU_TOPIC_PREFIX"]
        't1.'
        """
        return {
            "INSITU_KAFKA_BOOTSTRAP": self.kafka_bootstrap or "",
            "INSITU_TOPIC_PREFIX": self.topic_prefix,
            "INSITU_TOPIC_PARTITIONS": str(self.topic_partitions),
            "INSITU_DATA_DIR": str(self.data_dir),
        }

    def group(self, component: str) -> str:
        """``insitu-<component>``, plus the topic prefix: each deployment on a cluster has groups of its own.

        >>> Settings(topic_prefix="t1.").group("sink"), Settings().group("streams")
        ('insitu-sink-t1', 'insitu-streams')
        """
        suffix = re.sub(r"[^A-Za-z0-9_-]+", "-", self.topic_prefix).strip("-")
        return f"insitu-{component}-{suffix}" if suffix else f"insitu-{component}"

    @property
    def jars_dir(self) -> Path:
        if self.kafka_jars_dir is not None:
            return self.kafka_jars_dir.expanduser().resolve()
        cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        return (cache / "insitu" / "kafka-jars").resolve()

    @property
    def clickhouse_target(self) -> str:
        """The DSN clickhouse-connect is given (secret: may hold a password)."""
        if self.clickhouse_dsn is not None:
            return self.clickhouse_dsn.get_secret_value()
        return f"chdb://{self.data_dir / 'clickhouse'}"

    @property
    def registry_location(self) -> str:
        """INSITU_REGISTRY_URI, else ``<data_dir>/registry``."""
        return self.registry_uri or str(self.data_dir / "registry")

    @cached_property
    def kafka_security(self) -> dict[str, Any]:
        """librdkafka settings for security plus the free-form extra config."""
        named = {
            "security.protocol": self.kafka_security_protocol,
            "sasl.mechanism": self.kafka_sasl_mechanism,
            "sasl.username": self.kafka_sasl_username,
            "sasl.password": _reveal(self.kafka_sasl_password),
            "ssl.ca.location": self.kafka_ssl_ca_location,
            "ssl.certificate.location": self.kafka_ssl_certificate_location,
            "ssl.key.location": self.kafka_ssl_key_location,
            "ssl.key.password": _reveal(self.kafka_ssl_key_password),
        }
        config = {k: v for k, v in named.items() if v is not None}
        config.update(json.loads(self.kafka_client_config.get_secret_value()))
        return config


def _reveal(secret: SecretStr | None) -> str | None:
    return None if secret is None else secret.get_secret_value()
