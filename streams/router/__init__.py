"""The router: traffic weights per route, canaries of candidate versions, automatic rollback, commands.

Pure logic (no broker needed):

- ``Beta``, ``probability_best``, ``probability_greater``, ``allocate`` (``streams.router.weights``):
  Thompson sampling's probability of being best over Beta posteriors; floor and cap.
- ``CanaryPolicy``, ``Canary``, ``CanaryCounts``, ``Counts``, ``Verdict``, ``decide``
  (``streams.router.canary``): the canary's ramp, promotion and rollback rules; its target slices
  are ``schemas.slices.Slice``.
- ``RouteState``, ``InstanceState``, ``InstanceEvidence``, ``Entry`` (``streams.router.state``): the state.
- ``RouterEngine`` (``streams.router.engine``): inputs -> state -> ``Effects``; ``RouterPolicy``
  (``streams.router.policy``): its hyperparameters.
- ``apply_command`` (``streams.router.control``), ``CommandGate`` (``streams.router.gate``): commands.
- ``Staged`` (``streams.router.staged``): table writes held until the outputs are delivered.

The Faust agents live in ``streams.router.agent`` (importing it registers them all, with
``streams.router.command_agent``); ``python -m streams.worker --agents router`` runs them alone.
"""

from streams.router.canary import Canary, CanaryCounts, CanaryPolicy, Counts, Verdict, decide
from streams.router.control import apply_command
from streams.router.engine import RouterEngine
from streams.router.gate import CommandGate
from streams.router.policy import RouterPolicy
from streams.router.staged import Staged
from streams.router.state import Entry, InstanceEvidence, InstanceState, RouteState
from streams.router.transitions import CommandOutcome, Effects, StatusChange
from streams.router.weights import Beta, allocate, probability_best, probability_greater

__all__ = [
    "Beta",
    "Canary",
    "CanaryCounts",
    "CanaryPolicy",
    "CommandGate",
    "CommandOutcome",
    "Counts",
    "Effects",
    "Entry",
    "InstanceEvidence",
    "InstanceState",
    "RouteState",
    "RouterEngine",
    "RouterPolicy",
    "Staged",
    "StatusChange",
    "Verdict",
    "allocate",
    "apply_command",
    "decide",
    "probability_best",
    "probability_greater",
]
