"""Settings: environment prefix, secrets redacted, derived values."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from infra.app.cli import main
from infra.config import Settings


def test_environment_variables_use_the_insitu_prefix(monkeypatch, tmp_path):
    monkeypatch.setenv("INSITU_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("INSITU_KAFKA_BOOTSTRAP", "kafka-1:9092,kafka-2:9092")
    monkeypatch.setenv("INSITU_TOPIC_PARTITIONS", "12")
    settings = Settings()
    assert settings.data_dir == tmp_path.resolve()
    assert settings.kafka_bootstrap == "kafka-1:9092,kafka-2:9092"
    assert settings.topic_partitions == 12


def test_settings_are_frozen():
    with pytest.raises(ValidationError):
        Settings().topic_prefix = "x"  # type: ignore[misc]


def test_secrets_never_print(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("INSITU_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("INSITU_KAFKA_SASL_PASSWORD", "s3cret-sasl")
    monkeypatch.setenv("INSITU_CLICKHOUSE_DSN", "http://u:s3cret-ch@ch:8123/insitu")
    monkeypatch.setenv("INSITU_KAFKA_CLIENT_CONFIG", '{"ssl.key.password": "s3cret-extra"}')
    settings = Settings()
    assert "s3cret" not in repr(settings) and "s3cret" not in str(settings.model_dump())
    assert main(["config"]) == 0
    out = capsys.readouterr().out
    assert "s3cret" not in out
    assert "INSITU_KAFKA_SASL_PASSWORD=**********" in out


def test_security_settings_pass_through_to_the_clients():
    settings = Settings(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="insitu",
        kafka_sasl_password="pw",
        kafka_client_config='{"client.id": "insitu-test"}',
    )
    assert settings.kafka_security == {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "insitu",
        "sasl.password": "pw",
        "client.id": "insitu-test",
    }


@pytest.mark.parametrize(("raw", "problem"), [("{nope", "is not JSON"), ("[1]", "must be a JSON object")])
def test_bad_client_config_is_a_clear_error(raw, problem):
    with pytest.raises(ValidationError, match=problem):
        Settings(kafka_client_config=raw)


def test_clickhouse_defaults_to_embedded_chdb_under_the_data_dir(tmp_path):
    assert Settings(data_dir=tmp_path).clickhouse_target == f"chdb://{tmp_path.resolve()}/clickhouse"
    server = "https://default:pw@ch.example:8443/analytics"
    assert Settings(data_dir=tmp_path, clickhouse_dsn=server).clickhouse_target == server


def test_topic_prefix_applies_to_every_name():
    assert Settings(topic_prefix="staging.").topic("routing.weights") == "staging.routing.weights"
