"""`insitu produce` and `insitu consume` against the real broker, and interop with plain clients."""

from __future__ import annotations

import io
import json
import struct

import fastavro
import pytest
from confluent_kafka import Producer

from infra.app.cli import main
from schemas import SchemaCatalog, Serde, to_json
from schemas.catalog import SCHEMA_DIR
from tests.conftest import first_message
from tests.samples import SAMPLES


def run_cli(monkeypatch, capsys, argv, stdin=""):
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def consume_all(monkeypatch, capsys, topic, *extra):
    code, out, err = run_cli(monkeypatch, capsys, ["consume", topic, "--from-beginning", "--timeout", "20", *extra])
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines()], err


@pytest.mark.parametrize("topic", sorted(SAMPLES))
def test_every_topic_round_trips_through_the_cli(cli_env, monkeypatch, capsys, topic):
    code, _, err = run_cli(monkeypatch, capsys, ["produce", topic], json.dumps(SAMPLES[topic]) + "\n")
    assert code == 0, err
    assert "produced 1 record(s)" in err
    records, _ = consume_all(monkeypatch, capsys, topic, "--with-meta")
    assert len(records) == 1
    assert records[0]["value"] == to_json(Serde().from_json(topic, SAMPLES[topic]))
    assert records[0]["key"] is not None


def test_consumed_json_can_be_produced_again(cli_env, monkeypatch, capsys):
    run_cli(monkeypatch, capsys, ["produce", "profiles"], json.dumps(SAMPLES["profiles"]) + "\n")
    records, _ = consume_all(monkeypatch, capsys, "profiles")
    code, _, err = run_cli(monkeypatch, capsys, ["produce", "profiles"], json.dumps(records[0]) + "\n")
    assert code == 0, err
    again, _ = consume_all(monkeypatch, capsys, "profiles")
    assert again == [records[0], records[0]]


def test_invalid_lines_are_reported_and_not_produced(cli_env, monkeypatch, capsys):
    good = json.dumps(SAMPLES["inference.events"])
    bad_type = json.dumps(dict(SAMPLES["inference.events"], model_version="three"))
    missing = json.dumps({k: v for k, v in SAMPLES["inference.events"].items() if k != "instance_id"})
    stdin = "\n".join([good, bad_type, "{not json", missing, ""]) + "\n"
    code, _, err = run_cli(monkeypatch, capsys, ["produce", "inference.events"], stdin)
    assert code != 0
    assert "line 2: field 'model_version': expected an integer, got str 'three'" in err
    assert "line 3: invalid JSON" in err
    assert "line 4: field 'instance_id': required field is missing" in err
    assert "produced 1 record(s)" in err
    records, _ = consume_all(monkeypatch, capsys, "inference.events")
    assert [r["request_id"] for r in records] == ["req-1"]


def test_unknown_topic_is_rejected(cli_env, monkeypatch, capsys):
    code, _, err = run_cli(monkeypatch, capsys, ["produce", "nope"], "{}\n")
    assert code == 1 and "unknown topic 'nope'" in err


def test_json_and_undecodable_values_on_the_wire(cli_env, monkeypatch, capsys):
    """A service may send JSON on input topics; garbage is reported, never fatal."""
    producer = Producer({"bootstrap.servers": cli_env.kafka_bootstrap})
    topic = cli_env.topic("feedback.events")
    producer.produce(topic, key=b"req-1", value=json.dumps(SAMPLES["feedback.events"]).encode())
    producer.produce(topic, key=b"req-2", value=b"\x13\x37 not avro")
    producer.produce(topic, key=b"req-3", value=json.dumps({"request_id": "req-3", "label": "ok", "ts": 0}).encode())
    assert producer.flush(30) == 0
    records, err = consume_all(monkeypatch, capsys, "feedback.events")
    assert sorted(r["request_id"] for r in records) == ["req-1", "req-3"]
    assert f"topic={topic}" in err and "undecodable" in err and "1 undecodable message(s) skipped" in err


def test_a_plain_client_with_the_avsc_reads_what_insitu_produced(cli_env, monkeypatch, capsys):
    run_cli(monkeypatch, capsys, ["produce", "inference.events"], json.dumps(SAMPLES["inference.events"]) + "\n")
    schema = fastavro.parse_schema(json.loads((SCHEMA_DIR / "inference.events.v2.avsc").read_text()))
    message = first_message(cli_env.kafka_bootstrap or "", cli_env.topic("inference.events"), "plain")
    assert message is not None
    magic, schema_id = struct.unpack(">bI", message.value()[:5])
    assert magic == 0 and schema_id == SchemaCatalog.load().latest("inference.events").id
    record = fastavro.schemaless_reader(io.BytesIO(message.value()[5:]), schema, None)
    assert record["request_id"] == "req-1" and record["features"] == {"age": 31.0, "income": 55000.0}
    assert message.key() == b"req-1"


def test_insitu_reads_what_a_plain_client_wrote(cli_env, monkeypatch, capsys):
    raw = json.loads((SCHEMA_DIR / "feedback.events.v1.avsc").read_text())
    buf = io.BytesIO()
    buf.write(struct.pack(">bI", 0, SchemaCatalog.load().latest("feedback.events").id))
    fastavro.schemaless_writer(buf, fastavro.parse_schema(raw), {"request_id": "p-1", "label": "spam", "ts": 5})
    producer = Producer({"bootstrap.servers": cli_env.kafka_bootstrap})
    producer.produce(cli_env.topic("feedback.events"), key=b"p-1", value=buf.getvalue())
    assert producer.flush(30) == 0
    records, _ = consume_all(monkeypatch, capsys, "feedback.events")
    assert records == [{"request_id": "p-1", "label": "spam", "ts": "1970-01-01T00:00:00.005Z"}]


def test_max_stops_early(cli_env, monkeypatch, capsys):
    lines = "".join(json.dumps(dict(SAMPLES["feedback.events"], request_id=f"r{i}")) + "\n" for i in range(5))
    run_cli(monkeypatch, capsys, ["produce", "feedback.events"], lines)
    records, _ = consume_all(monkeypatch, capsys, "feedback.events", "--max", "3")
    assert len(records) == 3
