"""The analytics sink: the one process that writes ClickHouse (``python -m streams.sink``).

It consumes ``joined.events``, ``metrics.snapshots``, ``profiles``, ``synthetic.batches``,
``model.versions``, ``routing.weights``, ``command.results`` and ``deadletter``, maps each
record to rows of its table, writes them in batches (``INSITU_SINK_BATCH_ROWS`` rows or
``INSITU_SINK_BATCH_SECONDS``, whichever first) and commits the Kafka offsets only after
the rows are written. Replays collapse through the tables' ReplacingMergeTree identities.
Records it cannot decode or map go to the ``dead_letters`` table directly.

Public names:

- ``SinkSettings`` (``streams.sink.config``): the frozen settings, env prefix ``INSITU_``.
- ``TABLES``, ``to_rows``, ``route_removed``, ``MappingError`` (``streams.sink.mapping``):
  topic record -> table rows, pure.
- ``Batcher``, ``Batch``, ``Entry``, ``Origin`` (``streams.sink.batcher``): the batching buffer.
- ``ClickHouseWriter``, ``Patience``, ``Rejected``, ``WriteAborted`` (``streams.sink.writer``):
  the one place that writes, with retry and backoff.
- ``SinkRunner``, ``SinkStats``, ``SOURCE`` (``streams.sink.runner``): the process.
"""

from streams.sink.batcher import Batch, Batcher, Entry, Origin
from streams.sink.config import SinkSettings
from streams.sink.mapping import TABLES, MappingError, route_removed, to_rows
from streams.sink.runner import SOURCE, SinkRunner, SinkStats
from streams.sink.writer import ClickHouseWriter, Patience, Rejected, WriteAborted

__all__ = [
    "SOURCE",
    "TABLES",
    "Batch",
    "Batcher",
    "ClickHouseWriter",
    "Entry",
    "MappingError",
    "Origin",
    "Patience",
    "Rejected",
    "SinkRunner",
    "SinkSettings",
    "SinkStats",
    "WriteAborted",
    "route_removed",
    "to_rows",
]
