"""Weakness profiling: where each instance is wrong, against its peers, and when that changes.

Pure logic, no Kafka: the streams agent feeds joined events and sends what comes out to
``profiles`` and ``profile.changes``.

Public names:

- ``RouteProfiler``, ``ProfilerConfig``, ``Snapshot`` (``monitor``): one route's windows, build
  cadence, profile versions and change detection — what an agent calls;
- ``EventWindow``, ``RouteWindows``, ``Frame`` (``window``): bounded per-instance-version event
  buffers and their column snapshots;
- ``find_slices``, ``SliceConfig``, ``FoundSlice`` (``slices``): SliceLine-style search with
  Benjamini-Hochberg control and predicate refinement (``refine``, ``lattice``); a slice is a
  ``schemas.slices.Slice``, the one slice type of every layer;
- ``compare_with_peers``, ``PeerConfig``, ``RankedSlice`` (``peers``): weakness vs hard for all;
- ``attribute_errors``, ``explain_errors``, ``Attribution`` (``shap_attribution``): SHAP error
  attribution of a served torch model or a surrogate (``surrogate``, ``encoding``);
- ``error_distribution``, ``confusion_pairs`` (``summary``);
- ``build_profile``, ``ProfileConfig`` (``profile``): the ``profiles`` record;
- ``ChangeDetector`` (``changes``): ``profile.changes`` records with hysteresis.
"""

from streams.profiling.changes import ChangeDetector
from streams.profiling.monitor import ProfilerConfig, RouteProfiler, Snapshot
from streams.profiling.peers import PeerConfig, RankedSlice, compare_with_peers
from streams.profiling.profile import ProfileConfig, build_profile
from streams.profiling.shap_attribution import Attribution, attribute_errors, explain_errors
from streams.profiling.slices import FoundSlice, SliceConfig, find_slices
from streams.profiling.summary import confusion_pairs, error_distribution
from streams.profiling.window import EventWindow, Frame, RouteWindows

__all__ = [
    "Attribution",
    "ChangeDetector",
    "EventWindow",
    "FoundSlice",
    "Frame",
    "PeerConfig",
    "ProfileConfig",
    "ProfilerConfig",
    "RankedSlice",
    "RouteProfiler",
    "RouteWindows",
    "SliceConfig",
    "Snapshot",
    "attribute_errors",
    "build_profile",
    "compare_with_peers",
    "confusion_pairs",
    "error_distribution",
    "explain_errors",
    "find_slices",
]
