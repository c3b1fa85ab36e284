"""The top of insitu: what people run. May import every other package; nothing imports it.

Public names:

- ``main`` (``infra.app.cli``): the ``insitu`` command, one entry point for every subcommand.
- ``infra.app.loop``: the demo loop (``insitu demo`` / ``insitu up``): process supervisor, instance
  deployment, traffic simulator, live progress, time to heal.
- ``infra.app.scenarios``: demo scenarios as data (``agrawal``, ``digits``).
- ``build_report`` (``infra.app.report``): HTML page, PNG figures, ``summary.json`` and SQL of a run.
- ``infra.app.produce`` / ``infra.app.consume``: ``insitu produce`` and ``insitu consume``.
"""
