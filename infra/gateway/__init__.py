"""The gateway library: pick an instance per request from the router's weights, host models, emit events.

Public names:

- ``RoutingTable``, ``RouteVector``, ``RouteBook``, ``Target``, ``RoutingError``
  (``infra.gateway.routing_table``): ``routing.weights`` read to its end, then followed;
  ``choose(route)``.
- ``HostedModels``, ``ModelSource``, ``Predictor``, ``RowsPredictor``, ``TorchPredictor``,
  ``as_predictor``, ``ModelNotAvailable`` (``infra.gateway.hosted``): registry models, hot-swapped
  as the weights change.
- ``ReferenceGateway`` (``infra.gateway.reference``): both together, answering predictions and
  producing the inference events.
"""

from infra.gateway.hosted import (
    HostedModels,
    ModelNotAvailable,
    ModelSource,
    Predictor,
    RowsPredictor,
    TorchPredictor,
    as_predictor,
)
from infra.gateway.reference import ReferenceGateway
from infra.gateway.routing_table import RouteBook, RouteVector, RoutingError, RoutingTable, Target

__all__ = [
    "HostedModels",
    "ModelNotAvailable",
    "ModelSource",
    "Predictor",
    "ReferenceGateway",
    "RouteBook",
    "RouteVector",
    "RoutingError",
    "RoutingTable",
    "RowsPredictor",
    "Target",
    "TorchPredictor",
    "as_predictor",
]
