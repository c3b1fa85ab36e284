"""Per-instance classification metrics over named windows, from additive confusion counts.

Public names: ``compute``, ``Metrics`` (``streams.metrics.confusion``); ``VersionAggregate``, ``WINDOWS_MS``
(``streams.metrics.aggregate``); ``snapshot_record`` (``streams.metrics.snapshot``). The Faust agent
lives in ``streams.metrics.agent``.
"""

from streams.metrics.aggregate import WINDOWS_MS, VersionAggregate
from streams.metrics.confusion import Metrics, compute
from streams.metrics.snapshot import snapshot_record

__all__ = ["WINDOWS_MS", "Metrics", "VersionAggregate", "compute", "snapshot_record"]
