"""How often a window's SHAP attribution is recomputed: it ranks features, so it may lag a few builds.

Attribution costs about a second per build (a surrogate fit plus the explainer), while a
profile build without it costs milliseconds; recomputing it on every build would make the
profiler agent fall behind a busy route. An instance version's attribution is reused for
``every`` builds, and recomputed at once after a drift (the window was emptied).

>>> cache = AttributionCache(every=3)
>>> key = ("credit-a", 1)
>>> [cache.due(key) for _ in range(1)], cache.store(key, "shap-1")
([True], None)
>>> [cache.due(key) for _ in range(2)], cache.get(key)
([False, False], 'shap-1')
>>> cache.due(key)
True
>>> cache.store(key, "shap-2"); cache.forget(key); cache.due(key)
True
"""

from __future__ import annotations

from typing import Any

Key = tuple[str, int]


class AttributionCache:
    def __init__(self, every: int = 4) -> None:
        if every < 1:
            msg = f"every must be at least 1, got {every}"
            raise ValueError(msg)
        self.every = every
        self._value: dict[Key, Any] = {}
        self._age: dict[Key, int] = {}

    def due(self, key: Key) -> bool:
        """Whether this build should recompute; counts the build either way."""
        if key not in self._value or self._age[key] + 1 >= self.every:
            return True
        self._age[key] += 1
        return False

    def store(self, key: Key, attribution: Any) -> None:
        self._value[key] = attribution
        self._age[key] = 0

    def get(self, key: Key) -> Any:
        return self._value.get(key)

    def forget(self, key: Key) -> None:
        """After a drift: the next build recomputes from post-drift data."""
        self._value.pop(key, None)
        self._age.pop(key, None)
