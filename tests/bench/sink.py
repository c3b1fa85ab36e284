"""Analytics sink throughput: joined events through mapping + batched ``insert_rows`` into embedded chDB.

``python -m tests.bench.sink`` prints the table; ``run()`` returns its rows. Opens chDB on a
temporary directory of its own (one engine per process: run it in a fresh process).
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from infra.config import Settings
from schemas import Serde
from streams.sink.batcher import Batcher, Origin
from streams.sink.mapping import to_rows
from streams.sink.writer import ClickHouseWriter, Patience
from tests.samples import SAMPLES

TOPIC = "joined.events"


def _through_sink(writer: ClickHouseWriter, serde: Serde, blobs: list[bytes], batch_rows: int, decode: bool) -> float:
    """Rows/s for ``blobs`` through (decode +) map + batch + insert, flushing every ``batch_rows``."""
    batcher = Batcher(max_rows=batch_rows, max_seconds=3600.0)
    records = None if decode else [serde.decode(TOPIC, blob) for blob in blobs]
    now = datetime.now(UTC)
    started = time.perf_counter()
    for offset, blob in enumerate(blobs):
        record = serde.decode(TOPIC, blob) if records is None else records[offset]
        table, rows = to_rows(TOPIC, record)
        batcher.add(Origin(TOPIC, 0, offset, None, blob, now), [(table, row) for row in rows])
        if batcher.due():
            writer.write(batcher.take().tables, Patience())
    writer.write(batcher.take().tables, Patience())
    return len(blobs) / (time.perf_counter() - started)


def run(events: int = 100_000, batch_rows: int = 5000) -> list[tuple[str, str]]:
    serde = Serde()
    base = serde.from_json(TOPIC, SAMPLES[TOPIC])
    base["features"] = {f"f{i}": float(i) for i in range(8)}
    base["probabilities"] = {"approve": 0.7, "deny": 0.3}
    with tempfile.TemporaryDirectory() as tmp:
        writer = ClickHouseWriter(Settings(data_dir=Path(tmp)))
        writer.setup()
        try:
            rates = []
            for round_, decode in enumerate((False, True)):
                blobs = [serde.encode(TOPIC, base | {"request_id": f"b{round_}-{i}"}) for i in range(events)]
                rates.append(_through_sink(writer, serde, blobs, batch_rows, decode))
        finally:
            writer.close()
    return [
        (f"sink: map + insert joined events into chDB (batches of {batch_rows})", f"{rates[0]:,.0f} rows/s"),
        (f"sink: decode + map + insert joined events (batches of {batch_rows})", f"{rates[1]:,.0f} rows/s"),
    ]


if __name__ == "__main__":
    for name, value in run():
        print(f"| {name} | {value} |")
