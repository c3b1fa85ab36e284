"""Build a weakness profile: the ``profiles`` record of one instance version, from its window."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from streams.profiling.peers import PeerConfig, compare_with_peers
from streams.profiling.shap_attribution import Attribution
from streams.profiling.slices import SliceConfig, find_slices
from streams.profiling.stats import wilson
from streams.profiling.summary import confusion_pairs, error_distribution
from streams.profiling.window import Frame


@dataclass(frozen=True)
class ProfileConfig:
    slices: SliceConfig = field(default_factory=SliceConfig)
    peers: PeerConfig = field(default_factory=PeerConfig)
    confusion_pairs: int = 10


def no_drift() -> dict[str, Any]:
    """The ``DriftState`` of an instance no detector has fired for."""
    return {"detected": False, "detected_ts": None, "detectors": []}


def build_profile(
    frame: Frame,
    *,
    instance_id: str,
    route: str,
    model_version: int,
    profile_version: int,
    created_ts: int,
    window: str,
    peers: Frame | None = None,
    attribution: Attribution | None = None,
    drift: Mapping[str, Any] | None = None,
    config: ProfileConfig | None = None,
) -> dict[str, Any]:
    """The ``profiles`` record (Avro-ready; timestamps in epoch ms) for the events in ``frame``.

    ``peers``: the route's other instances' events (``RouteWindows.peers``); ``attribution``:
    SHAP error attribution computed off the hot path (it also ranks the features that
    conjunctions combine); ``drift``: the instance's ``DriftState`` record; ``window``: which
    data ``frame`` holds (``EventWindow.describe()``).

    >>> import numpy as np
    >>> x = np.arange(200, dtype=float)
    >>> labels = np.array(["a"] * 200, dtype=object)
    >>> frame = Frame({"x": x}, {}, labels, np.where(x >= 150, "b", "a").astype(object), x < 150, x.astype(np.int64))
    >>> p = build_profile(frame, instance_id="i", route="r", model_version=1, profile_version=1, created_ts=0,
    ...                   window="test")
    >>> p["overall_error"], p["slices"][0]["description"], p["confusion_pairs"]
    (0.25, 'x >= 149.5', [{'label': 'a', 'predicted': 'b', 'count': 50}])
    """
    cfg = config or ProfileConfig()
    n = len(frame)
    k = int(frame.errors.sum())
    low, high = wilson(k, n)
    ranking = attribution.scores if attribution is not None else None
    found = find_slices(frame, ranking=ranking, config=cfg.slices)
    ranked = compare_with_peers(found, peers, cfg.peers)
    return {
        "instance_id": instance_id,
        "route": route,
        "model_version": int(model_version),
        "profile_version": int(profile_version),
        "created_ts": int(created_ts),
        "window": window,
        "events": n,
        "overall_error": k / n if n else 0.0,
        "overall_error_low": float(low),
        "overall_error_high": float(high),
        "slices": [r.to_record() for r in ranked],
        "shap_attribution": dict(attribution.scores) if attribution is not None else {},
        "error_distribution": error_distribution(frame),
        "confusion_pairs": confusion_pairs(frame, cfg.confusion_pairs),
        "drift": dict(drift) if drift is not None else no_drift(),
    }
