"""The closed loop on one machine: every insitu process, a traffic simulator, live progress, a report.

- ``infra.app.loop.instances``: ``deploy`` trains a scenario's instances, registers them, announces them.
- ``infra.app.loop.processes``: ``Processes`` starts and stops the streams worker, sink, generator, fine-tuner.
- ``infra.app.loop.simulator``: ``TrafficSimulator``, an existing service using the gateway library.
- ``infra.app.loop.progress``: ``Progress`` follows the loop's topics; ``heal_times`` measures time to heal.
- ``infra.app.loop.demo``: ``run_demo`` (``insitu demo``) and ``run_up`` (``insitu up``).
"""
