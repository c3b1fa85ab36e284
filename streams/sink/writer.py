"""The one place the sink writes ClickHouse: connect in ``setup()``, insert a batch per table, retry.

ClickHouse being unavailable (connection refused, a server error, a dropped table) is
retried with exponential backoff, reconnecting and re-running the migrations before
each new attempt, until the caller's ``Patience`` runs out; then ``WriteAborted`` is
raised and the caller must not commit the batch's offsets. Tables written before the
failure are removed from the batch, so a retry writes only what is left.

A batch the client cannot even serialise (a value that does not fit its column) is not
an outage: it is split in halves until the offending rows are isolated, and those are
returned as ``Rejected`` for the caller to dead-letter, so one bad row never blocks the rest.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import NamedTuple, TypeVar

from clickhouse_connect.driver import exceptions as ch_errors
from clickhouse_connect.driver.client import Client

from infra.clickhouse import ClickHouseError, connect, insert_rows, migrate
from infra.config import Settings
from streams.sink.batcher import Entry

log = logging.getLogger(__name__)
T = TypeVar("T")


class WriteAborted(Exception):
    """ClickHouse stayed unavailable until the caller stopped waiting; the rest of the batch is unwritten."""


class Rejected(NamedTuple):
    """A row ClickHouse's client refused to serialise: its table, the row, and why."""

    table: str
    entry: Entry
    detail: str


@dataclass
class Patience:
    """How long a write keeps retrying: until ``stop`` is set and/or until ``deadline`` (on ``clock``).

    With neither, it retries for ever.

    >>> Patience(deadline=0.0, clock=lambda: 1.0).exhausted()
    True
    >>> Patience().exhausted()
    False
    """

    stop: threading.Event | None = None
    deadline: float | None = None
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], object] = time.sleep

    def exhausted(self) -> bool:
        if self.stop is not None and self.stop.is_set():
            return True
        return self.deadline is not None and self.clock() >= self.deadline

    def wait(self, seconds: float) -> None:
        if self.deadline is not None:
            seconds = min(seconds, max(0.0, self.deadline - self.clock()))
        if self.stop is not None:
            self.stop.wait(seconds)
        else:
            self.sleep(seconds)


class ClickHouseWriter:
    """Inserts batches into the analytics tables; connects (and migrates) in ``setup()``, never in ``__init__``.

    ``open_client`` replaces connect-and-migrate (tests); ``settings`` gives the target
    and the longest backoff (``INSITU_SINK_RETRY_MAX_SECONDS``).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        max_backoff: float = 30.0,
        first_backoff: float = 0.5,
        open_client: Callable[[], Client] | None = None,
    ) -> None:
        self._settings = settings
        self._open = open_client or self._connect_and_migrate
        self._first_backoff = min(first_backoff, max_backoff)
        self._max_backoff = max_backoff
        self._client: Client | None = None

    def setup(self, patience: Patience | None = None) -> None:
        """Connect and apply pending migrations, retrying while ClickHouse is unavailable."""
        self._retrying(lambda client: None, patience or Patience(), "connecting to ClickHouse")

    def write(self, tables: dict[str, list[Entry]], patience: Patience | None = None) -> list[Rejected]:
        """Insert every table's rows, one insert per table; written tables are removed from ``tables``.

        Returns the rows that could not be serialised. Raises ``WriteAborted`` when
        ``patience`` runs out while ClickHouse is unavailable.
        """
        rejected: list[Rejected] = []
        for table in list(tables):
            entries = tables[table]
            rejected += self._retrying(
                partial(self._isolating, table=table, entries=entries),
                patience or Patience(),
                f"insert of {len(entries)} rows into {table}",
            )
            del tables[table]
        return rejected

    def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            try:
                client.close()
            except Exception as exc:  # closing a broken connection must not hide the real error
                log.debug("closing the ClickHouse client failed: %s", exc)

    def _connect_and_migrate(self) -> Client:
        client = connect(self._settings)
        try:
            applied = migrate(client)
        except Exception:
            client.close()
            raise
        if applied:
            log.info("applied ClickHouse migrations: %s", ", ".join(applied))
        return client

    def _retrying(self, action: Callable[[Client], T], patience: Patience, what: str) -> T:
        delay = self._first_backoff
        attempt = 0
        while True:
            attempt += 1
            try:
                if self._client is None:
                    self._client = self._open()
                return action(self._client)
            except ClickHouseError as exc:
                self.close()  # reconnect (and re-migrate: a dropped table comes back) next time
                if patience.exhausted():
                    msg = f"{what}: gave up after {attempt} attempt(s): {exc}"
                    raise WriteAborted(msg) from exc
                log.warning("%s failed (attempt %d), retrying in %.1f s: %s", what, attempt, delay, exc)
                patience.wait(delay)
                delay = min(delay * 2, self._max_backoff)

    def _isolating(self, client: Client, table: str, entries: list[Entry]) -> list[Rejected]:
        """Insert ``entries``; if the client cannot serialise them, bisect to find the rows at fault."""
        try:
            insert_rows(client, table, [entry.row for entry in entries])
            return []
        except ClickHouseError as exc:
            if not _bad_data(exc):
                raise
            if len(entries) == 1:
                return [Rejected(table, entries[0], str(exc))]
        half = len(entries) // 2
        return self._isolating(client, table, entries[:half]) + self._isolating(client, table, entries[half:])


def _bad_data(exc: ClickHouseError) -> bool:
    """The rows are at fault, not the server: the client could not serialise them (nothing was sent),
    or ``insert_rows`` refused rows whose columns differ (no cause)."""
    cause = exc.__cause__
    return cause is None or isinstance(cause, ch_errors.DataError)
