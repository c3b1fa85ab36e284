"""The model registry: families, instances and their versions (safetensors weights + JSON metadata).

Layout below the registry URI (a local path or any fsspec URI prefix)::

    families/<family>.json
    instances/<instance>/instance.json             {"instance_id", "route", "family", "created"}
    instances/<instance>/versions/<000001>/claim.json   (created exclusively: the number is taken)
    instances/<instance>/versions/<000001>/weights.safetensors
    instances/<instance>/versions/<000001>/meta.json   (written last: a version exists once it is there)

Loading never unpickles: weights are safetensors, metadata JSON, and the module is
built from the family's declared class. Any number of writers may add versions of one
instance at once (fine-tune workers in one group during a rebalance, an operator's
``insitu registry add``): each version number is claimed by an exclusive create first.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors
from torch import nn

from infra.registry.family import ModelFamily
from infra.registry.storage import Storage
from infra.registry.versions import Status, StatusChange, VersionInfo

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
WEIGHTS = "weights.safetensors"
META = "meta.json"
CLAIM = "claim.json"


class RegistryError(LookupError):
    """A missing instance or version, or a registry entry that does not fit its family."""


@dataclass(frozen=True)
class InstanceInfo:
    instance_id: str
    route: str
    family: str
    created: datetime


@dataclass
class LoadedModel:
    """One version ready to predict: the module in eval mode, its family and metadata.

    ``encode`` turns ``(features, attributes)`` rows into the module's input;
    ``predict_proba`` and ``predict`` run the module on such rows; ``proba_array`` runs it
    on an already encoded numpy array (what a SHAP explainer calls).
    """

    instance_id: str
    route: str
    info: VersionInfo
    family: ModelFamily
    module: nn.Module
    device: torch.device

    @property
    def version(self) -> int:
        return self.info.version

    @property
    def labels(self) -> tuple[str, ...]:
        return self.family.labels

    def encode(self, rows: Sequence[tuple[Mapping[str, float], Mapping[str, str]]]) -> torch.Tensor:
        return self.family.encode_batch(rows)

    @torch.no_grad()
    def proba_tensor(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities for encoded rows ``x`` (n, width), on the CPU."""
        self.module.eval()
        return torch.softmax(self.module(x.to(self.device)).float(), dim=-1).cpu()

    def proba_array(self, x: np.ndarray) -> np.ndarray:
        return self.proba_tensor(torch.as_tensor(x, dtype=torch.float32)).numpy()

    def predict_proba(self, rows: Sequence[tuple[Mapping[str, float], Mapping[str, str]]]) -> torch.Tensor:
        return self.proba_tensor(self.encode(rows))

    def predict(self, rows: Sequence[tuple[Mapping[str, float], Mapping[str, str]]]) -> list[str]:
        if not rows:
            return []
        return [self.labels[i] for i in self.predict_proba(rows).argmax(dim=-1).tolist()]


class ModelRegistry:
    """Families, instances and versions below ``uri``.

    >>> from workers.models import TabularMLP
    >>> registry = ModelRegistry("memory://insitu-registry-doc")
    >>> family = ModelFamily.from_json({"name": "mlp", "module": "workers.models:TabularMLP",
    ...     "kwargs": {"in_features": 1, "n_classes": 2, "hidden": [4]},
    ...     "features": [{"name": "x", "kind": "numeric"}], "labels": ["a", "b"]})
    >>> registry.add_instance("credit-a", route="credit", family=family).family
    'mlp'
    >>> first = registry.add_version("credit-a", family.build(), reason="initial", status="promoted")
    >>> second = registry.add_version("credit-a", family.build(), reason="fine-tune")
    >>> second.version, second.parent, second.status, registry.promoted_version("credit-a")
    (2, 1, 'candidate', 1)
    >>> registry.load("credit-a").predict([({"x": 1.0}, {})])[0] in ("a", "b")
    True
    """

    def __init__(self, uri: str, **storage_options: Any) -> None:
        self.storage = Storage(uri, **storage_options)

    @property
    def uri(self) -> str:
        return self.storage.uri

    # -- families -----------------------------------------------------------------------------

    def add_family(self, family: ModelFamily) -> ModelFamily:
        """Store a family; idempotent for an identical one, an error when the name exists with other content."""
        _check_id(family.name, "family")
        family.build()  # the class imports and accepts its kwargs
        path = f"families/{family.name}.json"
        if self.storage.exists(path):
            existing = self.family(family.name)
            if existing.fingerprint != family.fingerprint:
                msg = f"family {family.name!r} already exists with a different declaration"
                raise RegistryError(msg)
            return existing
        self.storage.write_bytes(path, _json(family.to_json()))
        return family

    def family(self, name: str) -> ModelFamily:
        _check_id(name, "family")
        try:
            raw = json.loads(self.storage.read_bytes(f"families/{name}.json"))
        except FileNotFoundError:
            msg = f"unknown family {name!r} in {self.uri}"
            raise RegistryError(msg) from None
        return ModelFamily.from_json(raw, name=name)

    # -- instances ----------------------------------------------------------------------------

    def add_instance(
        self, instance_id: str, *, route: str, family: ModelFamily, now: datetime | None = None
    ) -> InstanceInfo:
        """Declare an instance of ``family`` on ``route`` (the family is stored too); idempotent."""
        _check_id(instance_id, "instance")
        self.add_family(family)
        path = f"instances/{instance_id}/instance.json"
        if self.storage.exists(path):
            info = self.instance(instance_id)
            if (info.route, info.family) != (route, family.name):
                msg = (
                    f"instance {instance_id!r} exists on route {info.route!r} with family {info.family!r}, "
                    f"not {route!r} / {family.name!r}"
                )
                raise RegistryError(msg)
            return info
        info = InstanceInfo(instance_id, route, family.name, now or datetime.now(UTC))
        body = {"instance_id": instance_id, "route": route, "family": family.name, "created": info.created.isoformat()}
        self.storage.write_bytes(path, _json(body))
        return info

    def instance(self, instance_id: str) -> InstanceInfo:
        _check_id(instance_id, "instance")
        try:
            raw = json.loads(self.storage.read_bytes(f"instances/{instance_id}/instance.json"))
        except FileNotFoundError:
            msg = f"unknown instance {instance_id!r} in {self.uri}"
            raise RegistryError(msg) from None
        return InstanceInfo(raw["instance_id"], raw["route"], raw["family"], datetime.fromisoformat(raw["created"]))

    def instances(self, route: str | None = None) -> list[InstanceInfo]:
        """Every instance (of ``route``, when given), by id."""
        found = [self.instance(name) for name in self.storage.list("instances") if _ID.fullmatch(name)]
        return [i for i in found if route is None or i.route == route]

    # -- versions -----------------------------------------------------------------------------

    def versions(self, instance_id: str) -> list[VersionInfo]:
        """Every committed version of the instance, oldest first."""
        self.instance(instance_id)
        out = []
        for name in self.storage.list(f"instances/{instance_id}/versions"):
            if name.isdigit() and self.storage.exists(f"{_version_dir(instance_id, int(name))}/{META}"):
                out.append(self.version(instance_id, int(name)))
        return sorted(out, key=lambda v: v.version)

    def version(self, instance_id: str, version: int) -> VersionInfo:
        try:
            raw = json.loads(self.storage.read_bytes(f"{_version_dir(instance_id, version)}/{META}"))
        except FileNotFoundError:
            msg = f"instance {instance_id!r} has no version {version} in {self.uri}"
            raise RegistryError(msg) from None
        return VersionInfo.from_json(raw)

    def promoted_version(self, instance_id: str) -> int | None:
        """The serving version: the newest one whose status is ``promoted``; ``None`` if there is none."""
        promoted = [v.version for v in self.versions(instance_id) if v.status == "promoted"]
        return max(promoted) if promoted else None

    def add_version(
        self,
        instance_id: str,
        weights: nn.Module | Mapping[str, torch.Tensor],
        *,
        reason: str,
        status: Status = "candidate",
        parent: int | None = None,
        metrics: Mapping[str, float] | None = None,
        extra: Mapping[str, Any] | None = None,
        now: datetime | None = None,
    ) -> VersionInfo:
        """Store new weights as the next version; ``parent`` defaults to the promoted version.

        The weights must load strictly into the family's module (same names and shapes).
        """
        info = self.instance(instance_id)
        family = self.family(info.family)
        state = weights.state_dict() if isinstance(weights, nn.Module) else dict(weights)
        state = {name: tensor.detach().to("cpu").contiguous() for name, tensor in state.items()}
        fits(family, state, instance_id)
        if parent is None:
            parent = self.promoted_version(instance_id)
        created = now or datetime.now(UTC)
        number = self._claim_version(instance_id, reason, created)
        blob = save_safetensors(state, metadata={"instance_id": instance_id, "version": str(number)})
        meta = VersionInfo(
            instance_id=instance_id,
            version=number,
            parent=parent,
            created=created,
            reason=reason,
            metrics=dict(metrics or {}),
            weights_sha256=hashlib.sha256(blob).hexdigest(),
            family=family.name,
            history=(StatusChange(status, created, reason),),
            extra=dict(extra or {}),
        )
        directory = _version_dir(instance_id, number)
        self.storage.write_bytes(f"{directory}/{WEIGHTS}", blob)
        self.storage.write_bytes(f"{directory}/{META}", _json(meta.to_json()))
        return meta

    def _claim_version(self, instance_id: str, reason: str, now: datetime) -> int:
        """The next version number, claimed by an exclusive create: two writers (two fine-tune workers)
        never get the same one. A claim whose writer died before committing its metadata leaves a gap."""
        taken = [int(n) for n in self.storage.list(f"instances/{instance_id}/versions") if n.isdigit()]
        number = max(taken, default=0) + 1
        claim = _json({"reason": reason, "claimed": now.isoformat()})
        while True:
            try:
                self.storage.create_bytes(f"{_version_dir(instance_id, number)}/{CLAIM}", claim)
            except FileExistsError:
                number += 1
            else:
                return number

    def set_status(
        self, instance_id: str, version: int, status: Status, reason: str = "", now: datetime | None = None
    ) -> VersionInfo:
        """Change a version's status (allowed transitions only) and record why."""
        meta = self.version(instance_id, version).with_status(status, now or datetime.now(UTC), reason)
        self.storage.write_bytes(f"{_version_dir(instance_id, version)}/{META}", _json(meta.to_json()))
        return meta

    def weights_uri(self, instance_id: str, version: int) -> str:
        return self.storage.url(f"{_version_dir(instance_id, version)}/{WEIGHTS}")

    def load_state(self, instance_id: str, version: int) -> dict[str, torch.Tensor]:
        """The weights of a version, checked against the sha256 in its metadata."""
        meta = self.version(instance_id, version)
        blob = self.storage.read_bytes(f"{_version_dir(instance_id, version)}/{WEIGHTS}")
        if hashlib.sha256(blob).hexdigest() != meta.weights_sha256:
            msg = f"instance {instance_id!r} v{version}: weights do not match the sha256 in {META}"
            raise RegistryError(msg)
        try:
            return load_safetensors(blob)
        except SafetensorError as exc:
            msg = f"instance {instance_id!r} v{version}: weights are not valid safetensors: {exc}"
            raise RegistryError(msg) from exc

    def load(self, instance_id: str, version: int | None = None, *, device: str | torch.device = "cpu") -> LoadedModel:
        """A version (default: the promoted one) as a module in eval mode on ``device``."""
        info = self.instance(instance_id)
        if version is None:
            version = self.promoted_version(instance_id)
            if version is None:
                msg = f"instance {instance_id!r} has no promoted version"
                raise RegistryError(msg)
        meta = self.version(instance_id, version)
        family = self.family(meta.family)
        module = family.build()
        try:
            module.load_state_dict(self.load_state(instance_id, version), strict=True)
        except RuntimeError as exc:
            msg = f"instance {instance_id!r} v{version}: weights do not fit family {family.name!r}: {exc}"
            raise RegistryError(msg) from exc
        target = torch.device(device)
        module.to(target).eval()
        return LoadedModel(instance_id, info.route, meta, family, module, target)


def fits(family: ModelFamily, state: Mapping[str, torch.Tensor], instance_id: str) -> None:
    """Raise ``RegistryError`` unless ``state`` loads strictly into the family's module and maps inputs to labels."""
    module = family.build()
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        msg = f"instance {instance_id!r}: weights do not fit family {family.name!r}: {exc}"
        raise RegistryError(msg) from exc
    with torch.no_grad():
        out = module.eval()(torch.zeros(1, family.width))
    if tuple(out.shape) != (1, len(family.labels)):
        msg = (
            f"instance {instance_id!r}: family {family.name!r} module maps (1, {family.width}) to "
            f"{tuple(out.shape)}, expected (1, {len(family.labels)}) logits"
        )
        raise RegistryError(msg)


def _check_id(value: str, what: str) -> None:
    if not isinstance(value, str) or not _ID.fullmatch(value) or ".." in value:
        msg = f"invalid {what} id {value!r}: use letters, digits, '.', '_' and '-' (at most 128)"
        raise RegistryError(msg)


def _version_dir(instance_id: str, version: int) -> str:
    _check_id(instance_id, "instance")
    return f"instances/{instance_id}/versions/{version:06d}"


def _json(value: Any) -> bytes:
    return json.dumps(value, indent=2, sort_keys=True).encode()
