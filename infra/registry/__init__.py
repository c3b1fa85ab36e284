"""The model registry: families, instances and versions (safetensors weights, JSON metadata) under a URI.

Public names:

- ``ModelRegistry``: ``add_family``, ``add_instance``, ``add_version``, ``set_status``,
  ``versions``, ``version``, ``promoted_version``, ``load`` -> ``LoadedModel``, ``weights_uri``.
- ``LoadedModel``: a version's module in eval mode with its family (``encode``,
  ``predict_proba``, ``predict``, ``proba_array`` for SHAP).
- ``ModelFamily``, ``FeatureSpec``: the declared module, features and labels; ``encode``.
- ``VersionInfo``, ``StatusChange``, ``Status``, ``TRANSITIONS``: version metadata.
- ``Storage``: bytes under a local path or fsspec URI prefix.
- ``RegistryError``, ``FamilyError``, ``EncodingError``, ``StatusError``.
"""

from infra.registry.family import EncodingError, FamilyError, FeatureSpec, ModelFamily
from infra.registry.registry import InstanceInfo, LoadedModel, ModelRegistry, RegistryError
from infra.registry.storage import Storage
from infra.registry.versions import TRANSITIONS, Status, StatusChange, StatusError, VersionInfo

__all__ = [
    "TRANSITIONS",
    "EncodingError",
    "FamilyError",
    "FeatureSpec",
    "InstanceInfo",
    "LoadedModel",
    "ModelFamily",
    "ModelRegistry",
    "RegistryError",
    "Status",
    "StatusChange",
    "StatusError",
    "Storage",
    "VersionInfo",
]
