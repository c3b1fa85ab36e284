"""The router's view of the model registry: it records what the router decided about a version.

The registry (``infra.registry.ModelRegistry``) is a best-effort extra here: the router's
own state is authoritative for routing and every decision is announced on ``model.versions``
either way. A status already recorded is not written again (a replayed decision after a
restart is a no-op), and a registry error is logged, never fatal.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from infra.registry import ModelRegistry
from streams.router.transitions import StatusChange

log = logging.getLogger(__name__)


class VersionRegistry(Protocol):
    """What the router needs from the model registry (``infra.registry.ModelRegistry`` has it)."""

    def version(self, instance_id: str, version: int) -> Any:
        """The version's metadata; its ``status`` is read."""
        ...

    def set_status(self, instance_id: str, version: int, status: Any, reason: str = "") -> Any: ...


def open_registry(settings: Any) -> VersionRegistry | None:
    """``ModelRegistry`` at ``INSITU_REGISTRY_URI`` (default ``<data_dir>/registry``), or None without one."""
    uri = settings.registry_location
    try:
        return ModelRegistry(uri)
    except Exception:
        log.exception("cannot open the model registry at %s: version statuses go to model.versions only", uri)
        return None


def record_status(registry: VersionRegistry, change: StatusChange) -> bool:
    """Set ``change`` in the registry unless it is already so; False (and a log line) if it could not be."""
    where = f"{change.instance_id} v{change.version}"
    try:
        if getattr(registry.version(change.instance_id, change.version), "status", None) == change.status:
            return True
        registry.set_status(change.instance_id, change.version, change.status, change.reason)
    except Exception as exc:  # an instance the registry does not hold, a transition it refuses, storage errors
        log.warning("registry: cannot mark %s %s: %s: %s", where, change.status, type(exc).__name__, exc)
        return False
    return True
