"""Per-instance classification metrics over named windows, from additive confusion counts.

Public names: ``compute``, ``Metrics`` (``streams.metrics.confusion``); ``windows``, ``WINDOWS_MS``
(``streams.metrics.buckets``); ``snapshot_record`` (``streams.metrics.snapshot``). The Faust agent
lives in ``streams.metrics.agent``.
"""

from streams.metrics.buckets import WINDOWS_MS, windows
from streams.metrics.confusion import Metrics, compute
from streams.metrics.snapshot import snapshot_record

__all__ = ["WINDOWS_MS", "Metrics", "compute", "snapshot_record", "windows"]
