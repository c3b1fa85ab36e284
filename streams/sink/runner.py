"""The analytics sink process: consume the analytics topics, write ClickHouse in batches, commit after.

At-least-once: offsets are committed only after every row of the messages they cover
is written (or dead-lettered), so a crash replays at most one batch per partition, and
the tables' ReplacingMergeTree identities collapse the replayed rows. The sink is the
one writer of ClickHouse; with embedded chDB it is the one process that owns the engine.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from confluent_kafka import TIMESTAMP_NOT_AVAILABLE, KafkaError, KafkaException, TopicPartition

from infra.kafka_clients import LazyProducer, consumer
from schemas import Serde, SerializationError
from schemas.deadletters import dead_letter as dead_letter_record
from streams.lag import StageLag
from streams.sink.batcher import Batch, Batcher, Entry, Origin, Row
from streams.sink.config import SinkSettings
from streams.sink.mapping import TABLES, MappingError, dead_letter, route_removed, to_rows
from streams.sink.writer import ClickHouseWriter, Patience, WriteAborted

log = logging.getLogger(__name__)

SOURCE = "streams.sink"
"""``source`` of the dead letters the sink writes itself."""


class Message(Protocol):
    """The parts of ``confluent_kafka.Message`` the sink reads."""

    def error(self) -> KafkaError | None: ...
    def topic(self) -> str | None: ...
    def partition(self) -> int | None: ...
    def offset(self) -> int | None: ...
    def key(self) -> bytes | None: ...
    def value(self) -> bytes | None: ...
    def timestamp(self) -> tuple[int, int]: ...


@dataclass
class SinkStats:
    """Counters since start: messages, flushes, rows written per table, the sink's own dead letters by reason."""

    messages: int = 0
    flushes: int = 0
    rows: Counter[str] = field(default_factory=Counter)
    dead_letters: Counter[str] = field(default_factory=Counter)
    tombstones: int = 0

    def line(self) -> str:
        """One line: ``messages=3 flushes=1 rows=4 (dead_letters=1 joined_events=3) rejected=1 (undecodable=1) ...``.

        ``rows`` counts rows written per table; ``rejected`` the dead letters the sink made itself, by reason.
        """
        return (
            f"messages={self.messages} flushes={self.flushes} rows={sum(self.rows.values())} ({_counts(+self.rows)}) "
            f"rejected={sum(self.dead_letters.values())} ({_counts(self.dead_letters)}) "
            f"tombstones_skipped={self.tombstones}"
        )


def _counts(counter: Counter[str] | dict[str, int]) -> str:
    return " ".join(f"{key}={value}" for key, value in sorted(counter.items()))


class SinkRunner:
    """Consumes every analytics topic and writes the rows, batched, through one ``ClickHouseWriter``.

    Nothing connects in ``__init__``: ``setup()`` connects ClickHouse (and migrates) and
    subscribes; ``run()`` calls it, loops until ``stop()``, then flushes, commits and
    closes. ``writer`` and ``consumer_factory`` replace the real ones in tests.
    """

    def __init__(
        self,
        settings: SinkSettings,
        *,
        writer: ClickHouseWriter | None = None,
        serde: Serde | None = None,
        consumer_factory: Callable[[], Any] | None = None,
        clock: Callable[[], float] = time.monotonic,
        lag_sender: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.settings = settings
        self.stats = SinkStats()
        self._writer = writer or ClickHouseWriter(settings, max_backoff=settings.sink_retry_max_seconds)
        self._serde = serde
        self._consumer_factory = consumer_factory or (lambda: consumer(settings, settings.group_id))
        self._clock = clock
        self._batcher = Batcher(settings.sink_batch_rows, settings.sink_batch_seconds, clock)
        self._topics = {settings.topic(name): name for name in TABLES}
        self._stop = threading.Event()
        self._consumer: Any = None
        self._pending: Batch | None = None  # taken from the batcher, not yet completely written
        self._lag = StageLag("sink")
        self._lag_sender = lag_sender
        self._lag_due = clock() + settings.lag_interval

    # -- lifecycle ----------------------------------------------------------------------------

    def setup(self) -> None:
        """Connect ClickHouse (retrying until ``stop()``), then subscribe to the analytics topics."""
        if self._serde is None:
            self._serde = Serde.from_settings(self.settings)
        self._writer.setup(Patience(stop=self._stop))
        self._consumer = self._consumer_factory()
        self._consumer.subscribe(list(self._topics), on_assign=self._on_assign, on_revoke=self._on_revoke)
        log.info(
            "sink consuming %d topics as group %s (batches of %d rows or %.2f s)",
            len(self._topics),
            self.settings.group_id,
            self.settings.sink_batch_rows,
            self.settings.sink_batch_seconds,
        )

    def stop(self) -> None:
        """Ask ``run()`` to finish: safe from a signal handler or another thread."""
        self._stop.set()

    def run(self) -> int:
        """Set up, consume until ``stop()``, then shut down; 0 when everything consumed was written."""
        ok = False
        try:
            self.setup()
            while not self._stop.is_set():
                self.poll()
        except WriteAborted as exc:
            log.error("stopped before ClickHouse became available: %s", exc)
        finally:  # on an unexpected error too: write and commit what was read, then let it propagate
            ok = self.shutdown()
        return 0 if ok else 1

    def shutdown(self) -> bool:
        """Flush and commit (retrying for ``INSITU_SINK_SHUTDOWN_SECONDS``), close; False if rows stay unwritten."""
        self._stop.set()
        ok = True
        if self._consumer is not None:
            deadline = self._clock() + self.settings.sink_shutdown_seconds
            ok = self.flush(Patience(deadline=deadline, clock=self._clock))
            try:
                self._consumer.close()
            except (KafkaException, RuntimeError) as exc:
                log.warning("closing the consumer failed: %s", exc)
            self._consumer = None
        self._writer.close()
        if not ok:
            unwritten = self._batcher.rows + (self._pending.rows if self._pending else 0)
            log.error("%d row(s) left unwritten; their offsets are not committed and will be replayed", unwritten)
        log.info("sink stopped: %s", self.stats.line())
        return ok

    # -- consuming ----------------------------------------------------------------------------

    def poll(self, max_wait: float = 0.5) -> None:
        """Consume what is there (waiting at most until the next flush is due), flush if due."""
        left = self._batcher.seconds_left()
        timeout = max_wait if left is None else min(max_wait, left)
        for message in self._consumer.consume(num_messages=min(1000, self.settings.sink_batch_rows), timeout=timeout):
            self.handle(message)
        if self._batcher.due():
            self.flush(Patience(stop=self._stop))
        if self._lag_sender is not None and self._clock() >= self._lag_due:
            self._lag_due = self._clock() + self.settings.lag_interval
            self._lag_sender(self.lag_record())

    def lag_record(self) -> dict[str, Any]:
        """The sink's ``stage.lag`` record: messages behind on its assigned partitions, delays since the last."""
        assigned = self._consumer.assignment()
        ends: dict[tuple[str, int], int | None] = {}
        for tp in assigned:
            _, high = self._consumer.get_watermark_offsets(tp, cached=True)  # from the last fetch
            ends[(tp.topic, tp.partition)] = high if high >= 0 else None
        starts = {
            (tp.topic, tp.partition): tp.offset if tp.offset >= 0 else None for tp in self._consumer.position(assigned)
        }
        return self._lag.record(ends, int(time.time() * 1000), committed=starts)

    def handle(self, message: Message) -> None:
        """Buffer the rows of one message, or its dead letter; consumer errors are logged."""
        error = message.error()
        if error is not None:
            if error.code() == KafkaError._PARTITION_EOF:
                return
            if error.fatal():
                raise KafkaException(error)
            log.warning("consumer error: %s", error)
            return
        ts_type, ts_ms = message.timestamp()
        when = datetime.now(UTC) if ts_type == TIMESTAMP_NOT_AVAILABLE or ts_ms < 0 else _millis(ts_ms)
        origin = Origin(
            topic=message.topic() or "",
            partition=_position(message.partition()),
            offset=_position(message.offset()),
            key=message.key(),
            value=message.value(),
            timestamp=when,
        )
        self.stats.messages += 1
        self._batcher.add(origin, self.rows_for(origin))
        self._lag.processed(
            origin.topic, origin.partition, origin.offset, ts_ms if ts_ms > 0 else None, int(time.time() * 1000)
        )

    def rows_for(self, origin: Origin) -> list[tuple[str, Row]]:
        """The (table, row) pairs for one message: its mapped rows, or one dead letter."""
        topic = self._topics.get(origin.topic)
        if topic is None:
            return [self._dead_letter(origin, "unknown_topic", f"the sink does not consume {origin.topic!r}")]
        try:
            if origin.value is None and topic == "routing.weights":
                return [("routing_history", route_removed(_route(origin.key), origin.timestamp))]
            if origin.value is None and topic == "profiles":
                self.stats.tombstones += 1  # a deleted profile: the history in ClickHouse stays
                return []
            record = self._decoder.decode(topic, origin.value, partition=origin.partition, offset=origin.offset)
            table, rows = to_rows(topic, record)
        except SerializationError as exc:
            return [self._dead_letter(origin, exc.reason, exc.detail)]
        except MappingError as exc:
            return [self._dead_letter(origin, exc.reason, str(exc))]
        except Exception as exc:  # one record must not stop the sink: it is kept in dead_letters
            log.exception("the sink failed on %s[%d]@%d", origin.topic, origin.partition, origin.offset)
            return [self._dead_letter(origin, "processing_error", f"{type(exc).__name__}: {exc}")]
        return [(table, row) for row in rows]

    def _dead_letter(self, origin: Origin, reason: str, detail: str) -> tuple[str, Row]:
        """A ``dead_letters`` row written by the sink itself (never produced to ``deadletter``: the
        sink consumes that topic). Its ``ts`` is the message's Kafka timestamp, so a replay collapses."""
        self.stats.dead_letters[reason] += 1
        log.warning("dead letter (%s) at %s[%d]@%d: %s", reason, origin.topic, origin.partition, origin.offset, detail)
        record = dead_letter_record(
            topic=origin.topic,
            partition=origin.partition,
            offset=origin.offset,
            key=origin.key,
            value=origin.value,
            reason=reason,
            detail=detail,
            source=SOURCE,
            now=origin.timestamp,
            max_bytes=self.settings.dead_letter_max_bytes,
        )
        return "dead_letters", dead_letter(record)[0]

    @property
    def _decoder(self) -> Serde:
        if self._serde is None:
            msg = "SinkRunner.setup() was not called"
            raise RuntimeError(msg)
        return self._serde

    # -- writing ------------------------------------------------------------------------------

    def flush(self, patience: Patience) -> bool:
        """Write everything buffered, then commit the offsets it covers; False (nothing committed) if aborted."""
        if self._pending is None:
            if not self._batcher.messages:
                return True
            self._pending = self._batcher.take()
        batch = self._pending
        started = self._clock()
        written: Counter[str] = Counter()
        while batch.tables:
            before = batch.counts()
            try:
                rejected = self._writer.write(batch.tables, patience)
            except WriteAborted as exc:
                log.error("flush aborted, offsets not committed: %s", exc)
                return False
            finally:
                done = {table: n for table, n in before.items() if table not in batch.tables}
                written.update(done)
                self.stats.rows.update(done)
            for item in rejected:
                written[item.table] -= 1
                self.stats.rows[item.table] -= 1
                if item.table == "dead_letters":  # built by the sink; cannot happen unless a column changed
                    log.error("dead letter not writable, dropped: %s (%s)", item.entry.row, item.detail)
                    continue
                table, row = self._dead_letter(item.entry.origin, "unwritable", f"{item.table}: {item.detail}")
                batch.tables.setdefault(table, []).append(Entry(row, item.entry.origin))
        self._commit(batch.offsets)
        self._pending = None
        self.stats.flushes += 1
        log.info(
            "flushed %d message(s) -> %d row(s) in %.3f s (%s); committed %d partition offset(s); totals: %s",
            batch.messages,
            sum(written.values()),
            self._clock() - started,
            _counts(+written),
            len(batch.offsets),
            self.stats.line(),
        )
        return True

    def _commit(self, offsets: dict[tuple[str, int], int]) -> None:
        if not offsets or self._consumer is None:
            return
        partitions = [TopicPartition(topic, partition, offset) for (topic, partition), offset in offsets.items()]
        try:
            self._consumer.commit(offsets=partitions, asynchronous=False)
        except KafkaException as exc:  # rows are written; a replay of them collapses
            log.warning("committing %d offset(s) failed (the rows are written): %s", len(partitions), exc)

    def _on_assign(self, _consumer: Any, partitions: list[TopicPartition]) -> None:
        log.info("assigned %d partition(s)", len(partitions))
        self._lag.forget()

    def _on_revoke(self, _consumer: Any, partitions: list[TopicPartition]) -> None:
        """Before partitions move to another sink, write and commit what was read from them."""
        if partitions and not self._stop.is_set():
            self.flush(Patience(stop=self._stop))


def _millis(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def _position(value: int | None) -> int:
    return -1 if value is None else value


def _route(key: bytes | None) -> str:
    if not key:
        msg = "routing.weights tombstone without a key: no route to remove"
        raise MappingError(msg, field="key")
    try:
        return key.decode("utf-8")
    except UnicodeDecodeError as exc:
        msg = f"routing.weights tombstone key is not UTF-8: {key!r}"
        raise MappingError(msg, field="key") from exc


def lag_sender(settings: SinkSettings) -> Callable[[dict[str, Any]], None]:
    """Send the sink's ``stage.lag`` records (not through the batcher: the progress view reads the topic)."""
    serde = Serde.from_settings(settings)
    kafka = LazyProducer(settings)
    return lambda record: kafka.produce_records(serde, "stage.lag", [record], key="stage")
