"""Trained generators kept between runs: safetensors weights + JSON metadata under a URI prefix.

One generator per route and input layout (family fingerprint, labels, controls, size):
``<uri>/<route>-<key>/generator.safetensors`` and ``meta.json``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from typing import Any

from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from infra.registry.family import ModelFamily
from infra.registry.storage import Storage
from workers.device import Runtime
from workers.generator.model import TabularGenerator


def generator_key(route: str, family: ModelFamily, controls: Sequence[str], latent: int, hidden: int) -> str:
    """A folder name for the route's generator of this input layout.

    >>> from infra.registry.family import ModelFamily
    >>> fam = ModelFamily.from_json({"name": "f", "module": "m:C", "features": [{"name": "x", "kind": "numeric"}],
    ...                              "labels": ["a", "b"]})
    >>> generator_key("credit/eu", fam, [], 8, 128)[:10]
    'credit_eu-'
    """
    layout = {
        "features": [f.to_json() for f in family.features],
        "labels": list(family.labels),
        "controls": list(controls),
        "latent": latent,
        "hidden": hidden,
    }
    digest = hashlib.sha256(json.dumps(layout, sort_keys=True).encode()).hexdigest()[:16]
    return f"{re.sub(r'[^A-Za-z0-9._-]', '_', route)[:64]}-{digest}"


class GeneratorStore:
    """Save and restore ``TabularGenerator`` checkpoints (never pickled)."""

    def __init__(self, uri: str, **storage_options: Any) -> None:
        self.storage = Storage(uri, **storage_options)

    def save(self, key: str, generator: TabularGenerator, extra: dict[str, Any]) -> None:
        weights, meta = generator.state()
        self.storage.write_bytes(f"{key}/generator.safetensors", save_safetensors(weights))
        self.storage.write_bytes(f"{key}/meta.json", json.dumps({**meta, "extra": extra}, indent=2).encode())

    def load(self, key: str, runtime: Runtime) -> tuple[TabularGenerator, dict[str, Any]] | None:
        """The saved generator and its ``extra`` metadata, or ``None`` when there is none."""
        if not self.storage.exists(f"{key}/meta.json"):
            return None
        meta = json.loads(self.storage.read_bytes(f"{key}/meta.json"))
        try:
            weights = load_safetensors(self.storage.read_bytes(f"{key}/generator.safetensors"))
            generator = TabularGenerator.restore(weights, meta, runtime)
        except (SafetensorError, RuntimeError, KeyError, FileNotFoundError) as exc:
            msg = f"generator checkpoint {self.storage.url(key)} is unusable: {exc}"
            raise ValueError(msg) from exc
        return generator, dict(meta.get("extra") or {})
