"""The workers: targeted synthetic data generator and cautious fine-tuning (the registry is ``infra.registry``).

Public names (import them from their modules):

- ``workers.config``: ``WorkerSettings`` (frozen, env prefix ``INSITU_``), ``worker_settings``.
- ``workers.models``: ``TabularMLP``, the default family class for tabular classifiers.
- ``workers.device``: ``configure`` (device picked once, CPU threads), ``Runtime`` (AMP on CUDA).
- ``workers.reservoir``: ``Reservoir``, ``RealRow``: recent real rows per route and their split.
- ``workers.generator``: ``GeneratorWorker``, ``GeneratorService``, ``RoutePlugins`` (label
  functions and control properties per route), ``TabularGenerator``.
- ``workers.finetune``: ``FineTuneWorker``, ``FineTuneService``, ``fine_tune``, ``evaluate_gate``.
- ``workers.loop``: ``WorkerLoop`` (the thin Kafka loop), ``Refused``; ``workers.tail``: ``TailReader``;
  ``workers.process``: ``ServiceWorker`` (a service fed by the tail of ``joined.events``, one input topic).
- ``workers.run``: ``run`` / ``main`` (``python -m workers.generator``, ``python -m workers.finetune``).
"""
