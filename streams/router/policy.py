"""The router's hyperparameters in one frozen object."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from streams.config import default
from streams.router.canary import CanaryPolicy


@dataclass(frozen=True)
class RouterPolicy:
    """Weights and canary hyperparameters (built from ``StreamSettings`` by ``from_settings``)."""

    floor: float = default("router_floor")
    cap: float = default("router_cap")
    temperature: float = default("router_temperature")
    half_life_ms: int = int(default("router_half_life") * 1000)
    interval_ms: int = int(default("router_interval") * 1000)
    min_change: float = default("router_min_change")
    instance_ttl_ms: int = int(default("router_instance_ttl") * 1000)
    draws: int = default("router_draws")
    canary: CanaryPolicy = field(default_factory=CanaryPolicy)

    @classmethod
    def from_settings(cls, settings: Any) -> RouterPolicy:
        return cls(
            floor=settings.router_floor,
            cap=settings.router_cap,
            temperature=settings.router_temperature,
            half_life_ms=int(settings.router_half_life * 1000),
            interval_ms=int(settings.router_interval * 1000),
            min_change=settings.router_min_change,
            instance_ttl_ms=int(settings.router_instance_ttl * 1000),
            draws=settings.router_draws,
            canary=CanaryPolicy(
                steps=tuple(settings.canary_steps),
                step_samples=settings.canary_step_samples,
                min_samples=settings.canary_min_samples,
                noninferior_samples=settings.canary_noninferior_samples,
                margin=settings.canary_margin,
                promote_confidence=settings.canary_confidence,
                rollback_confidence=settings.rollback_confidence,
                slice_min_samples=settings.canary_slice_min_samples,
                max_samples=settings.canary_max_samples,
                draws=settings.router_draws,
            ),
        )
