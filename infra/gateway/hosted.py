"""Models a gateway hosts, hot-swapped as the routing weights name new versions.

``HostedModels`` follows a ``RoutingTable``: when a vector names an (instance, version) it
does not hold, it loads it from the registry in a background thread and keeps serving the
instance's previous version until the load is done; versions no vector names any more are
dropped once a newer one is in place. ``get`` never waits for a swap, only for an instance
it has never loaded.

>>> class Source:
...     def load(self, instance_id, version=None):
...         return Constant(f"{instance_id}-v{version}")
>>> class Constant:
...     def __init__(self, label): self.label = label
...     def predict(self, features, attributes): return self.label, {self.label: 1.0}
>>> models = HostedModels(Source())
>>> version, model = models.get("credit-a", 3)
>>> version, model.predict({}, {})[0]
(3, 'credit-a-v3')
>>> models.close()
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

from infra.gateway.routing_table import RouteVector, RoutingTable

log = logging.getLogger(__name__)


class Predictor(Protocol):
    """A loaded model: features and attributes in, the predicted label and class probabilities out."""

    def predict(self, features: Mapping[str, float], attributes: Mapping[str, str]) -> tuple[str, dict[str, float]]: ...


class ModelSource(Protocol):
    """Where models come from: the model registry (``infra.registry``) or anything with its ``load``."""

    def load(self, instance_id: str, version: int | None = None) -> Any: ...


class ModelNotAvailable(RuntimeError):
    """An instance has no loaded version and its first load failed."""


class TorchPredictor:
    """A torch classifier with its feature encoding and labels (what the registry loads).

    ``encoding`` turns a request into the model's input vector: a callable
    ``(features, attributes) -> sequence``, an object with such an ``encode`` method, or a
    sequence of feature names read from ``features`` in order.
    """

    def __init__(self, module: Any, encoding: Any, labels: Sequence[str]) -> None:
        import torch

        self._torch = torch
        self.module = module.eval()
        self.encoding = encoding
        self.labels = list(labels)

    def encode(self, features: Mapping[str, float], attributes: Mapping[str, str]) -> Any:
        if callable(self.encoding):
            return self.encoding(features, attributes)
        if hasattr(self.encoding, "encode"):
            return self.encoding.encode(features, attributes)
        missing = [name for name in self.encoding if name not in features]
        if missing:
            msg = f"request lacks features {missing}; the model reads {list(self.encoding)}"
            raise ValueError(msg)
        return [float(features[name]) for name in self.encoding]

    def predict(self, features: Mapping[str, float], attributes: Mapping[str, str]) -> tuple[str, dict[str, float]]:
        torch = self._torch
        x = torch.as_tensor(self.encode(features, attributes), dtype=torch.float32).reshape(1, -1)
        with torch.no_grad():
            probabilities = torch.softmax(self.module(x), dim=-1)[0].tolist()
        best = max(range(len(probabilities)), key=probabilities.__getitem__)
        return self.labels[best], dict(zip(self.labels, probabilities, strict=True))


class RowsPredictor:
    """A model that answers batches of ``(features, attributes)`` rows with ``predict_proba(rows)``
    and names its classes in ``labels`` (``infra.registry``'s ``LoadedModel``)."""

    def __init__(self, loaded: Any) -> None:
        self.loaded = loaded
        self.labels = list(loaded.labels)

    def predict(self, features: Mapping[str, float], attributes: Mapping[str, str]) -> tuple[str, dict[str, float]]:
        probabilities = [float(p) for p in self.loaded.predict_proba([(features, attributes)])[0]]
        best = max(range(len(probabilities)), key=probabilities.__getitem__)
        return self.labels[best], dict(zip(self.labels, probabilities, strict=True))


def as_predictor(loaded: Any) -> Predictor:
    """A ``Predictor`` from what ``ModelSource.load`` returned: the registry's loaded model
    (``predict_proba(rows)`` and ``labels``), a ``(module, encoding, labels)`` tuple, an object
    with ``module``, ``encoding`` and ``labels``, or a ``Predictor`` already."""
    if callable(getattr(loaded, "predict_proba", None)) and getattr(loaded, "labels", None) is not None:
        return RowsPredictor(loaded)
    if isinstance(loaded, tuple) and len(loaded) == 3:
        return TorchPredictor(*loaded)
    module, encoding, labels = (getattr(loaded, name, None) for name in ("module", "encoding", "labels"))
    if module is not None and encoding is not None and labels is not None:
        return TorchPredictor(module, encoding, labels)
    if callable(getattr(loaded, "predict", None)):
        predictor: Predictor = loaded
        return predictor
    msg = (
        f"cannot serve a {type(loaded).__name__}: expected a registry model, a predictor or (module, encoding, labels)"
    )
    raise TypeError(msg)


class HostedModels:
    """The loaded versions of the hosted instances (``instances``; default: every instance named)."""

    def __init__(self, source: ModelSource, *, instances: Collection[str] | None = None) -> None:
        self._source = source
        self._instances = None if instances is None else frozenset(instances)
        self._lock = threading.Lock()
        self._models: dict[tuple[str, int], Predictor] = {}
        self._pending: dict[tuple[str, int], Future[None]] = {}
        self._failed: dict[tuple[str, int], str] = {}
        self._named: dict[str, set[tuple[str, int]]] = {}
        self._followed: set[str] = set()  # instances some vector has named
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model-loader")

    def hosts(self, instance_id: str) -> bool:
        return self._instances is None or instance_id in self._instances

    def follow(self, table: RoutingTable) -> None:
        """Load what ``table``'s vectors name now and whenever they change."""
        table.subscribe(self.on_vector)
        for route, vector in table.routes().items():
            self.on_vector(route, vector)

    def on_vector(self, route: str, vector: RouteVector | None) -> None:
        named = set() if vector is None else {iv for iv in vector.versions() if self.hosts(iv[0])}
        with self._lock:
            self._named[route] = named
            self._followed.update(i for i, _ in named)
            for key in named:
                self._failed.pop(key, None)  # a new vector naming it again: try again
        for instance_id, version in sorted(named):
            self._schedule(instance_id, version)
        self._evict()

    def get(self, instance_id: str, version: int) -> tuple[int, Predictor]:
        """The model to answer with, and its version: ``version`` if loaded, else one the instance has.

        While ``version`` loads, another loaded version of the instance answers — one the
        weights still name if there is one (the stable version beside a new canary), else the
        one being replaced. Only an instance with nothing loaded waits.
        """
        with self._lock:
            model = self._models.get((instance_id, version))
            if model is not None:
                return version, model
            fallback = self._fallback(instance_id)
        self._schedule(instance_id, version)
        if fallback is not None:
            return fallback
        self.wait_idle()
        with self._lock:
            model = self._models.get((instance_id, version))
            if model is not None:
                return version, model
            error = self._failed.get((instance_id, version), "not loaded")
        msg = f"{instance_id} v{version} is not available: {error}"
        raise ModelNotAvailable(msg)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait for the loads scheduled so far; True if they all finished."""
        with self._lock:
            futures = list(self._pending.values())
        for future in futures:
            try:
                future.result(timeout)
            except TimeoutError:
                return False
        return True

    def loaded(self) -> dict[str, list[int]]:
        """Instance -> the versions held."""
        with self._lock:
            out: dict[str, list[int]] = {}
            for instance_id, version in sorted(self._models):
                out.setdefault(instance_id, []).append(version)
            return out

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _schedule(self, instance_id: str, version: int) -> None:
        key = (instance_id, version)
        with self._lock:
            if key in self._models or key in self._pending or key in self._failed:
                return
            self._pending[key] = self._executor.submit(self._load, instance_id, version)

    def _load(self, instance_id: str, version: int) -> None:
        key = (instance_id, version)
        try:
            model = as_predictor(self._source.load(instance_id, version))
        except Exception as exc:
            log.exception("loading %s v%s failed; serving the previous version", instance_id, version)
            with self._lock:
                self._failed[key] = f"{type(exc).__name__}: {exc}"
                self._pending.pop(key, None)
            return
        with self._lock:
            self._models[key] = model
            self._pending.pop(key, None)
        log.info("hosting %s v%s", instance_id, version)
        self._evict()

    def _wanted(self) -> set[tuple[str, int]]:
        return set().union(*self._named.values()) if self._named else set()

    def _fallback(self, instance_id: str) -> tuple[int, Predictor] | None:
        wanted = self._wanted()
        held = sorted((v, m) for (i, v), m in self._models.items() if i == instance_id)
        named = [(v, m) for v, m in held if (instance_id, v) in wanted]
        pool = named or held
        return pool[-1] if pool else None

    def _evict(self) -> None:
        """Drop versions no vector names once the instance has a named version loaded (or is gone)."""
        with self._lock:
            wanted = self._wanted()
            for instance_id in {i for i, _ in self._models}:
                held = [v for i, v in self._models if i == instance_id]
                replaced = any((instance_id, v) in wanted for v in held)
                gone = instance_id in self._followed and not any(i == instance_id for i, _ in wanted)
                for version in held:
                    if (instance_id, version) not in wanted and (replaced or gone):
                        del self._models[(instance_id, version)]
                        log.info("dropped %s v%s (no route names it)", instance_id, version)
