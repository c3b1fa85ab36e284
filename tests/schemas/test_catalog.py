"""The shipped schemas: complete, stable ids, compatible evolution."""

from __future__ import annotations

import io
import itertools
import json

import fastavro
import pytest

from infra.topics import CATALOG
from schemas import SchemaCatalog, Serde
from schemas.catalog import MANIFEST, SCHEMA_DIR
from tests.samples import SAMPLES


def test_every_catalog_topic_has_a_schema_and_every_schema_a_topic():
    assert SchemaCatalog.load().topics == sorted(spec.name for spec in CATALOG)


def test_manifest_ids_are_unique_and_name_existing_files():
    entries = json.loads(MANIFEST.read_text())["schemas"]
    assert len({e["id"] for e in entries}) == len(entries)
    assert {e["file"] for e in entries} == {p.name for p in SCHEMA_DIR.glob("*.avsc")}
    for entry in entries:
        assert entry["file"] == f"{entry['topic']}.v{entry['version']}.avsc"


def test_versions_of_a_topic_are_numbered_from_one_without_gaps():
    catalog = SchemaCatalog.load()
    for topic in catalog.topics:
        assert [v.version for v in catalog.versions(topic)] == list(range(1, len(catalog.versions(topic)) + 1))


def _previous_and_current():
    catalog = SchemaCatalog.load()
    for topic in catalog.topics:
        versions = catalog.versions(topic)
        for old, new in itertools.pairwise(versions):
            yield pytest.param(old, new, id=f"{topic}-v{old.version}-to-v{new.version}")


@pytest.mark.parametrize(("old", "new"), list(_previous_and_current()))
def test_a_record_written_with_the_previous_version_reads_with_the_current(old, new):
    sample = SAMPLES[old.topic]
    old_fields = {f["name"] for f in old.raw["fields"]}
    record = Serde().from_json(old.topic, {k: v for k, v in sample.items() if k in old_fields or k not in sample})
    old_record = {k: v for k, v in record.items() if k in old_fields}
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, old.parsed, old_record)
    buf.seek(0)
    read = fastavro.schemaless_reader(buf, old.parsed, new.parsed)
    for name in old_fields:
        assert read[name] == old_record[name]
    added = [f for f in new.raw["fields"] if f["name"] not in old_fields]
    assert added, "a new version must add something"
    for field in added:
        assert "default" in field, f"{new.topic} v{new.version} adds {field['name']} without a default"
        assert read[field["name"]] == field["default"]


def test_old_framed_records_decode_through_the_serde():
    catalog = SchemaCatalog.load()
    v1 = catalog.versions("inference.events")[0]
    record = {
        "request_id": "r",
        "route": "x",
        "instance_id": "i",
        "model_version": 1,
        "ts": 0,
        "features": {"a": 1.0},
        "prediction": "p",
    }
    buf = io.BytesIO()
    buf.write(b"\x00" + v1.id.to_bytes(4, "big"))
    fastavro.schemaless_writer(buf, v1.parsed, record)
    decoded = Serde().decode("inference.events", buf.getvalue())
    assert decoded["attributes"] == {} and decoded["probabilities"] == {}
    assert decoded["features"] == {"a": 1.0}
