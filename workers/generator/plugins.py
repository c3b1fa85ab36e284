"""Per-route code the generator calls: label functions and control properties.

A **label function** takes a row ``(features, attributes)`` and returns a label, a
``(label, confidence)`` pair, or ``None`` to abstain. A **control property** takes a row
and returns a float (for image-like inputs, e.g. a blur level); the generator is
conditioned on it, so a profile that names the property can ask for rows at a level.

Register them in code, or name them in settings as import paths
(``INSITU_LABEL_FUNCTIONS='{"credit": ["policies.credit:affordability"]}'``,
``INSITU_CONTROLS`` alike)::

    plugins = RoutePlugins()
    plugins.add_label_function("credit", affordability)            # source "rule:affordability"
    plugins.add_control("scans", blur_level, name="blur")
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from infra.imports import import_callable
from workers.generator.codec import Row

LabelFunction = Callable[[Mapping[str, float], Mapping[str, str]], Any]
ControlFunction = Callable[[Mapping[str, float], Mapping[str, str]], float]


class PluginError(ValueError):
    """A label function or control that cannot be loaded or misbehaves."""


class RoutePlugins:
    """Label functions and control properties by route.

    >>> plugins = RoutePlugins()
    >>> plugins.add_label_function("credit", lambda f, a: "deny" if f["debt"] > 5 else None, name="debt")
    >>> plugins.label_functions("credit")[0][0], plugins.label_functions("other")
    ('debt', [])
    >>> plugins.add_control("credit", lambda f, a: f["debt"] / 10, name="debt_level")
    >>> plugins.control_values("credit", [({"debt": 4.0}, {})]).tolist()
    [[0.4]]
    """

    def __init__(self) -> None:
        self._labels: dict[str, dict[str, LabelFunction]] = {}
        self._controls: dict[str, dict[str, ControlFunction]] = {}

    @classmethod
    def from_settings(
        cls, label_functions: Mapping[str, Sequence[str]], controls: Mapping[str, Sequence[str]]
    ) -> RoutePlugins:
        """Import every ``module:function`` path named per route."""
        plugins = cls()
        for route, paths in label_functions.items():
            for path in paths:
                plugins.add_label_function(route, _import(path, route), name=path.rsplit(":", 1)[1].rsplit(".")[-1])
        for route, paths in controls.items():
            for path in paths:
                plugins.add_control(route, _import(path, route), name=path.rsplit(":", 1)[1].rsplit(".")[-1])
        return plugins

    def add_label_function(self, route: str, function: LabelFunction, *, name: str | None = None) -> None:
        self._labels.setdefault(route, {})[_name(function, name)] = function

    def add_control(self, route: str, function: ControlFunction, *, name: str | None = None) -> None:
        self._controls.setdefault(route, {})[_name(function, name)] = function

    def label_functions(self, route: str) -> list[tuple[str, LabelFunction]]:
        return list(self._labels.get(route, {}).items())

    def controls(self, route: str) -> list[str]:
        """The route's control property names, in registration order."""
        return list(self._controls.get(route, {}))

    def control_values(self, route: str, rows: Sequence[Row]) -> np.ndarray:
        """Each control property of each row: an ``(n, controls)`` array."""
        functions = list(self._controls.get(route, {}).items())
        out = np.zeros((len(rows), len(functions)), dtype=np.float64)
        for j, (name, function) in enumerate(functions):
            for i, (features, attributes) in enumerate(rows):
                try:
                    value = float(function(features, attributes))
                except Exception as exc:  # user code: say which control and row failed
                    msg = f"route {route!r}: control {name!r} failed on row {i}: {type(exc).__name__}: {exc}"
                    raise PluginError(msg) from exc
                if not math.isfinite(value):
                    msg = f"route {route!r}: control {name!r} returned {value} on row {i}"
                    raise PluginError(msg)
                out[i, j] = value
        return out


def _name(function: Callable[..., Any], name: str | None) -> str:
    chosen = name or getattr(function, "__name__", "")
    if not chosen or chosen == "<lambda>":
        msg = "give a name to a label function or control that has none"
        raise PluginError(msg)
    return chosen


def _import(path: str, route: str) -> Callable[..., Any]:
    try:
        return import_callable(path)
    except ImportError as exc:
        msg = f"route {route!r}: {exc}"
        raise PluginError(msg) from exc
