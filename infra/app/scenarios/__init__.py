"""Demo scenarios as data: a dataset, the instances and how they were trained, the traffic, its phases.

A scenario is a JSON file (``infra/app/scenarios/<name>.json`` ships ``agrawal``); a user
scenario is any JSON file of the same shape whose code references (``module:function``)
point at the user's own modules. ``load_scenario(name_or_path)`` validates it.

Public names: ``Scenario``, ``InstanceSpec``, ``Phase``, ``Weakness``, ``load_scenario``,
``available_scenarios``.
"""

from __future__ import annotations

from infra.app.scenarios.spec import InstanceSpec, Phase, Scenario, Weakness, available_scenarios, load_scenario

__all__ = ["InstanceSpec", "Phase", "Scenario", "Weakness", "available_scenarios", "load_scenario"]
