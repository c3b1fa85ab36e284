"""``insitu registry add | list | show`` through the CLI entry point."""

from __future__ import annotations

import json

import torch
from safetensors.torch import save_file

from infra.app.cli import main
from tests.workers.generator import toy


def test_registry_commands(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("INSITU_DATA_DIR", str(tmp_path))
    family = tmp_path / "toy.json"
    family.write_text(json.dumps(toy.FAMILY.to_json()))
    weights = tmp_path / "toy-a.safetensors"
    torch.manual_seed(0)
    save_file(toy.FAMILY.build().state_dict(), str(weights))

    assert main(["registry", "add", "toy-a", "--family", str(family), "--route", "toy", "--weights", str(weights)]) == 0
    assert main(["registry", "add", "toy-a", "--weights", str(weights), "--reason", "retrained"]) == 0
    added = capsys.readouterr().out.splitlines()
    assert added[0].startswith("toy-a v1 (promoted)") and added[1].startswith("toy-a v2 (candidate)")

    assert main(["registry", "list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed[1].split() == ["toy-a", "toy", "toy", "v1", "2"]

    assert main(["registry", "show", "toy-a"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["promoted_version"] == 1 and [v["reason"] for v in shown["versions"]][1] == "retrained"
    assert shown["family"]["labels"] == ["low", "high"]


def test_registry_add_refuses_weights_that_do_not_fit(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("INSITU_DATA_DIR", str(tmp_path))
    family = tmp_path / "toy.json"
    family.write_text(json.dumps(toy.FAMILY.to_json()))
    weights = tmp_path / "wrong.safetensors"
    save_file({"layer.weight": torch.zeros(3, 3)}, str(weights))
    args = ["registry", "add", "toy-a", "--family", str(family), "--route", "toy", "--weights", str(weights)]
    assert main(args) == 1
    assert "weights do not fit family 'toy'" in capsys.readouterr().err
    assert main(["registry", "list"]) == 0
    assert capsys.readouterr().out.strip() == "no instances"
