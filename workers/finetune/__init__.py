"""The fine-tune worker (``python -m workers.finetune`` or ``insitu finetune run``).

Consumes ``synthetic.batches``; starts from the instance's promoted version; trains 1-3
epochs at a low learning rate on the synthetic rows mixed with replayed real rows,
rolling back an epoch that makes validation worse; gates the result on held-out real
rows; registers a candidate (or a rejected version with the reasons) and produces
``model.versions``; backs off an instance after rejections.

Public names:

- ``FineTuneWorker`` (``worker``): the process; ``FineTuneService`` (``service``): its logic.
- ``fine_tune``, ``TrainingData``, ``FineTuneResult``, ``validation_loss`` (``train``).
- ``evaluate_gate``, ``GatePolicy``, ``GateResult``, ``paired_gain_bound`` (``gate``).
- ``Backoff`` (``backoff``); ``data``: ``synthetic``, ``replay``, ``anchors``.
"""
