"""Encode a window's columns as the float matrix a torch model reads, with feature groups.

A served model brings its own encoder (anything with ``columns``, ``groups`` and
``transform(frame)``); the surrogate uses ``WindowEncoder``: numeric features standardised on the
window (missing values at the mean, i.e. 0), categorical features one-hot over their most
frequent values. ``groups`` maps each feature to its columns, so that attributions of one-hot
columns add up to their feature.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from streams.profiling.window import Frame


class Encoder(Protocol):
    """What attribution needs from a model's encoder."""

    @property
    def columns(self) -> list[str]: ...

    @property
    def groups(self) -> Mapping[str, list[int]]: ...

    def transform(self, frame: Frame) -> np.ndarray: ...


@dataclass(frozen=True)
class WindowEncoder:
    """Standardised numeric features and one-hot categorical values, fitted on one window.

    >>> x = np.array([1.0, 3.0])
    >>> frame = Frame({"x": x}, {"c": np.array(["u", "v"], dtype=object)}, x, x, np.ones(2, bool), np.zeros(2))
    >>> enc = WindowEncoder.fit(frame)
    >>> enc.columns, enc.groups["c"], enc.transform(frame).tolist()
    (['x', 'c=u', 'c=v'], [1, 2], [[-1.0, 1.0, 0.0], [1.0, 0.0, 1.0]])
    """

    numeric: tuple[str, ...]
    means: tuple[float, ...]
    scales: tuple[float, ...]
    categorical: tuple[tuple[str, tuple[str, ...]], ...]

    @classmethod
    def fit(cls, frame: Frame, max_values: int = 20) -> WindowEncoder:
        names, means, scales = [], [], []
        for name, x in frame.numeric.items():
            present = x[np.isfinite(x)]
            if present.size == 0:
                continue
            names.append(name)
            means.append(float(present.mean()))
            scales.append(float(present.std()) or 1.0)
        categorical = []
        for name, column in frame.categorical.items():
            values, counts = np.unique(column[column != None].astype(str), return_counts=True)  # noqa: E711
            top = values[np.argsort(-counts, kind="stable")[:max_values]]
            if top.size:
                categorical.append((name, tuple(sorted(map(str, top)))))
        return cls(tuple(names), tuple(means), tuple(scales), tuple(categorical))

    @property
    def columns(self) -> list[str]:
        return [*self.numeric, *(f"{name}={value}" for name, values in self.categorical for value in values)]

    @property
    def groups(self) -> dict[str, list[int]]:
        groups = {name: [i] for i, name in enumerate(self.numeric)}
        start = len(self.numeric)
        for name, values in self.categorical:
            groups[name] = list(range(start, start + len(values)))
            start += len(values)
        return groups

    def transform(self, frame: Frame) -> np.ndarray:
        out = np.zeros((len(frame), len(self.columns)), dtype=np.float32)
        for i, (name, mean, scale) in enumerate(zip(self.numeric, self.means, self.scales, strict=True)):
            x = frame.numeric.get(name)
            if x is not None:
                out[:, i] = np.nan_to_num((x - mean) / scale, nan=0.0, posinf=0.0, neginf=0.0)
        start = len(self.numeric)
        for name, values in self.categorical:
            column = frame.categorical.get(name)
            for j, value in enumerate(values):
                if column is not None:
                    out[:, start + j] = column == value
            start += len(values)
        return out
