"""Drift detectors of an instance: ADWIN on its error stream and PSI on its feature distributions.

Both are cheap per event. The feature detector learns a reference (quantile bins of the first
``reference_size`` events), then keeps counts of the last ``window_size`` events in those bins and
computes the population stability index every ``check_every`` events; no per-event tests.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Mapping

from river import drift


class FeatureDrift:
    """PSI drift on numeric features against a reference window (river's ``update``/property contract).

    >>> import random
    >>> rng = random.Random(0)
    >>> detector = FeatureDrift(reference_size=300, window_size=300, check_every=50)
    >>> for _ in range(600):
    ...     _ = detector.update({"x": rng.gauss(0, 1)})
    >>> detector.drift_detected
    False
    >>> for _ in range(300):
    ...     _ = detector.update({"x": rng.gauss(3, 1)})
    >>> detector.drift_detected, detector.drifted_features
    (True, ['x'])
    """

    def __init__(
        self,
        reference_size: int = 500,
        window_size: int = 500,
        check_every: int = 100,
        threshold: float = 0.25,
        bins: int = 10,
    ) -> None:
        self.reference_size = reference_size
        self.window_size = window_size
        self.check_every = check_every
        self.threshold = threshold
        self.bins = bins
        self._reference_rows: list[Mapping[str, float]] = []
        self._edges: dict[str, list[float]] = {}
        self._expected: dict[str, list[float]] = {}
        self._window: deque[dict[str, int]] = deque()
        self._counts: dict[str, list[int]] = {}
        self._seen = 0
        self._drifted: list[str] = []

    @property
    def drift_detected(self) -> bool:
        return bool(self._drifted)

    @property
    def drifted_features(self) -> list[str]:
        return list(self._drifted)

    def reset(self) -> None:
        """Forget the reference: the next ``reference_size`` events become the new one."""
        self.__init__(self.reference_size, self.window_size, self.check_every, self.threshold, self.bins)  # type: ignore[misc]

    def update(self, features: Mapping[str, float]) -> FeatureDrift:
        self._drifted = []
        if not self._edges:
            self._reference_rows.append(dict(features))
            if len(self._reference_rows) >= self.reference_size:
                self._learn_reference()
            return self
        binned = {
            name: bisect.bisect_right(edges, features[name]) for name, edges in self._edges.items() if name in features
        }
        self._window.append(binned)
        for name, index in binned.items():
            self._counts[name][index] += 1
        if len(self._window) > self.window_size:
            for name, index in self._window.popleft().items():
                self._counts[name][index] -= 1
        self._seen += 1
        if len(self._window) >= self.window_size and self._seen % self.check_every == 0:
            self._drifted = [name for name in sorted(self._edges) if self.psi(name) > self.threshold]
        return self

    def psi(self, name: str) -> float:
        total = sum(self._counts[name]) or 1
        value = 0.0
        for expected, count in zip(self._expected[name], self._counts[name], strict=True):
            actual = max(count / total, 1e-4)
            value += (actual - expected) * math.log(actual / expected)
        return value

    def _learn_reference(self) -> None:
        names = set.intersection(*(set(row) for row in self._reference_rows))
        for name in sorted(names):
            values = sorted(row[name] for row in self._reference_rows)
            cuts = sorted({values[int(len(values) * q / self.bins)] for q in range(1, self.bins)})
            self._edges[name] = cuts
            counts = [0] * (len(cuts) + 1)
            for v in values:
                counts[bisect.bisect_right(cuts, v)] += 1
            self._expected[name] = [max(c / len(values), 1e-4) for c in counts]
            self._counts[name] = [0] * (len(cuts) + 1)
        self._reference_rows = []


class InstanceDrift:
    """ADWIN on the 0/1 error stream plus ``FeatureDrift``; ``update`` returns the detectors that fired."""

    def __init__(self, reference_size: int = 500) -> None:
        self.errors = drift.ADWIN(delta=0.002)
        self.features = FeatureDrift(reference_size=reference_size, window_size=reference_size)

    def update(self, correct: bool, features: Mapping[str, float]) -> list[str]:
        fired = []
        self.errors.update(0.0 if correct else 1.0)
        if self.errors.drift_detected:
            fired.append("adwin:error_rate")
        self.features.update(features)
        fired += [f"psi:{name}" for name in self.features.drifted_features]
        if fired:
            self.features.reset()  # the post-drift data becomes the new reference
        return fired
