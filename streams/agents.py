"""Every agent of the streams worker; importing this module registers them with the app."""

from streams.join import agent as join_agent
from streams.metrics import agent as metrics_agent
from streams.profiling import agent as profiling_agent
from streams.router import agent as router_agent

__all__ = ["join_agent", "metrics_agent", "profiling_agent", "router_agent"]
