"""The join of inference and feedback events by request id.

Public names: ``on_inference``, ``on_feedback``, ``on_expiry``, ``join`` (``streams.join.logic``);
the Faust agent lives in ``streams.join.agent``.
"""

from streams.join.logic import Outcome, join, on_expiry, on_feedback, on_inference

__all__ = ["Outcome", "join", "on_expiry", "on_feedback", "on_inference"]
