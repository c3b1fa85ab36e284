"""The targeted synthetic data generator (``python -m workers.generator`` or ``insitu generator run``).

Consumes ``profile.changes``; keeps the recent ``joined.events`` of every route; trains a
class-conditional tabular VAE per route (warm-started, saved between runs); samples
inside weak slices, around misclassified rows and at control levels; labels rows
through rules, teachers and its own conditioning; guards quality; produces
``synthetic.batches``.

Public names:

- ``GeneratorWorker`` (``worker``): the process; ``GeneratorService`` (``service``): its logic.
- ``RoutePlugins`` (``plugins``): label functions and control properties per route.
- ``TabularGenerator``, ``Sample`` (``model``); ``ConditionalTabularVAE``, ``VAEConfig`` (``vae``);
  ``TabularCodec`` (``codec``); ``GeneratorTrainer`` (``trainer``); ``GeneratorStore`` (``store``).
- ``targeting``: ``in_slice``, ``around``, ``at_levels``, ``project``.
- ``labels``: ``RuleSource``, ``TeacherSource``, ``ConditioningSource``, ``resolve``.
- ``teachers``: ``strong_peers``, ``WeakSlices``; ``quality``: ``guard``, ``discriminator_auc``.
"""

from workers.generator.plugins import RoutePlugins

__all__ = ["RoutePlugins"]
