"""Route configuration, personal data and input checks."""

from __future__ import annotations

import json

import pytest

from streams.routes import RouteCatalog
from streams.validation import InvalidEvent, check_feedback, check_inference
from tests.samples import SAMPLES


def test_personal_fields_are_dropped_or_hashed(tmp_path):
    path = tmp_path / "routes.json"
    path.write_text(
        json.dumps({"routes": {"credit": {"personal": {"email": "drop", "customer": "hash", "zip": "hash"}}}})
    )
    catalog = RouteCatalog.load(str(path), salt=b"pepper")
    out = catalog.anonymise("credit", {"email": "a@b.c", "customer": "c-17", "zip": 12345.0, "region": "north"})
    assert "email" not in out and out["region"] == "north"
    assert out["customer"] != "c-17" and len(out["customer"]) == 16
    assert isinstance(out["zip"], float) and out["zip"] != 12345.0
    assert catalog.anonymise("credit", {"customer": "c-17"}) == {"customer": out["customer"]}, "stable hash"
    assert RouteCatalog.load(str(path), salt=b"salt").anonymise("credit", {"customer": "c-17"}) != {
        "customer": out["customer"]
    }, "the salt is part of the hash"
    assert catalog.anonymise("other", {"email": "x"}) == {"email": "x"}


def test_a_routes_file_with_a_bad_action_is_a_clear_error(tmp_path):
    path = tmp_path / "routes.json"
    path.write_text(json.dumps({"routes": {"credit": {"personal": {"email": "shred"}}}}))
    with pytest.raises(ValueError, match="must map to 'drop' or 'hash'"):
        RouteCatalog.load(str(path))


def test_unknown_routes_are_rejected_only_when_routes_are_declared():
    event = dict(SAMPLES["inference.events"], route="fraud")
    check_inference(event, RouteCatalog(None))
    with pytest.raises(InvalidEvent) as err:
        check_inference(event, RouteCatalog({}))
    assert err.value.reason == "unknown_route"


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_features_are_rejected(bad):
    event = dict(SAMPLES["inference.events"], features={"age": bad})
    with pytest.raises(InvalidEvent) as err:
        check_inference(event, RouteCatalog(None))
    assert err.value.reason == "non_finite_feature" and "age" in err.value.detail


def test_empty_ids_are_rejected():
    with pytest.raises(InvalidEvent, match="request_id"):
        check_feedback({"request_id": " ", "label": "x"})
