"""Hostile input against a real streams worker: 10,000 generated inputs interleaved with valid pairs.

``python -m tests.bench.fuzz [--inputs N] [--pairs N] [--runs N]`` starts an embedded broker
(unless INSITU_KAFKA_BOOTSTRAP is set) and, per run, a fresh streams worker; it sends inputs
drawn by the hypothesis strategies of ``tests.hostile`` (a new seed per run) between valid
inference/feedback pairs, then accounts for every message: the share of hostile inputs
dead-lettered (and with the reason the decoders give), crashes in the worker's log, valid
pairs joined and counted, and the worker's resident memory.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from infra.config import Settings
from infra.kafka_clients import admin
from infra.topics import create_topics
from tests.bench import kafka
from tests.hostile import Sender, classify, draw
from tests.streams.worker_process import WorkerProcess, read_topic, worker_env

CHUNK = 500  # inputs drawn and sent at a time: a draw holds megabyte values


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def one_run(bootstrap: str, data: Path, inputs: int, pairs: int, seed: int) -> dict[str, Any]:
    settings = Settings(
        data_dir=data, kafka_bootstrap=bootstrap, topic_prefix=f"fuzz{uuid.uuid4().hex[:6]}.", topic_partitions=2
    )
    create_topics(admin(settings), settings)
    log = data / f"worker-{seed}.log"
    worker = WorkerProcess(worker_env(settings), log).start()
    assert worker.process is not None
    pid = worker.process.pid
    try:
        send = Sender(settings)
        for i in range(50):  # warm-up: the worker's memory with its agents running
            send.pair(f"warm-{i}", "fuzz-a")
        send.flush()
        read_topic(settings, "joined.events", lambda rs: len(rs) >= 50)
        rss_start, rss_peak = rss_mb(pid), 0.0
        valid_ids = [f"ok-{i}" for i in range(pairs)]
        expected: dict[int, str] = {}
        kinds: Counter[str] = Counter()
        skipped_valid = 0
        started = time.monotonic()
        per_chunk = max(1, pairs * CHUNK // inputs)
        pair_at = 0
        for chunk in range(0, inputs, CHUNK):
            for item in draw(min(CHUNK, inputs - chunk), seed_value=seed * 1_000_000 + chunk):
                reason = classify(item)
                if reason is None:  # a mutation that stayed valid: not hostile, not sent
                    skipped_valid += 1
                    continue
                expected[send.send(item)] = reason
                kinds[item.kind.split(":")[0]] += 1
            for request_id in valid_ids[pair_at : pair_at + per_chunk]:
                send.pair(request_id, ("fuzz-a", "fuzz-b")[int(request_id[3:]) % 2])
            pair_at += per_chunk
            rss_peak = max(rss_peak, rss_mb(pid))
        for request_id in valid_ids[pair_at:]:
            send.pair(request_id, ("fuzz-a", "fuzz-b")[int(request_id[3:]) % 2])
        send.flush()
        sent_s = time.monotonic() - started
        positions = {send.positions[i]: reason for i, reason in expected.items()}

        def accounted(records: list[dict[str, Any]]) -> bool:
            nonlocal rss_peak
            rss_peak = max(rss_peak, rss_mb(pid))
            seen = {(d["original_topic"], d["original_partition"], d["original_offset"]) for d in records}
            return set(positions) <= seen

        dead = read_topic(settings, "deadletter", accounted, timeout=900)
        joined = read_topic(settings, "joined.events", lambda rs: set(valid_ids) <= {r.get("request_id") for r in rs})
        done_s = time.monotonic() - started
        got = {(d["original_topic"], d["original_partition"], d["original_offset"]): d["reason"] for d in dead}
        alive = worker.process.poll() is None
        rss_end = rss_mb(pid) if alive else float("nan")
    finally:
        worker.stop()
    text = log.read_text(errors="replace").lower()
    joined_ids = Counter(r.get("request_id") for r in joined)
    return {
        "hostile": len(positions),
        "dead_lettered": sum(1 for p in positions if p in got),
        "right_reason": sum(1 for p, reason in positions.items() if got.get(p) == reason),
        "reasons": Counter(positions.values()),
        "kinds": kinds,
        "skipped_valid": skipped_valid,
        "valid_pairs": pairs,
        "valid_joined": sum(1 for i in valid_ids if joined_ids[i] >= 1),
        "joined_twice": sum(1 for i in valid_ids if joined_ids[i] > 1),
        "crashes": text.count("crashed reason") + text.count("we experienced a crash") + (0 if alive else 1),
        "alive": alive,
        "rss_mb": (rss_start, rss_peak, rss_end),
        "sent_s": sent_s,
        "done_s": done_s,
    }


def span(values: list[float], fmt: str = "{:,.0f}") -> str:
    low, high = min(values), max(values)
    return fmt.format(low) if low == high else f"{fmt.format(low)} to {fmt.format(high)}"


def run(
    settings: Settings | None = None, inputs: int = 10_000, pairs: int = 2_000, runs: int = 1
) -> list[tuple[str, str]]:
    with tempfile.TemporaryDirectory() as tmp, kafka.bootstrap(Path(tmp), settings) as servers:
        results = [one_run(servers, Path(tmp), inputs, pairs, seed) for seed in range(runs)]
    for r in results:
        drawn = f"{r['hostile']:,} hostile ({r['skipped_valid']} drawn valid, not sent)"
        print(f"  run: {drawn}, reasons {dict(r['reasons'])}")
    share = [100 * r["dead_lettered"] / r["hostile"] for r in results]
    right = [100 * r["right_reason"] / r["hostile"] for r in results]
    valid = [100 * r["valid_joined"] / r["valid_pairs"] for r in results]
    return [
        (
            f"hostile inputs per run ({runs} run(s), hypothesis seeds 0..{runs - 1})",
            span([r["hostile"] for r in results]),
        ),
        ("hostile inputs dead-lettered", span(share, "{:.2f} %")),
        ("  ... with the reason the decoders give", span(right, "{:.2f} %")),
        ("worker crashes (agent or worker)", span([r["crashes"] for r in results])),
        (f"valid pairs joined ({pairs:,} per run, sent between them)", span(valid, "{:.2f} %")),
        ("valid pairs joined twice", span([r["joined_twice"] for r in results])),
        ("worker RSS after warm-up, MB", span([r["rss_mb"][0] for r in results])),
        ("worker RSS peak during the run, MB", span([r["rss_mb"][1] for r in results])),
        ("worker RSS at the end, MB", span([r["rss_mb"][2] for r in results])),
        (
            "seconds to send / to account for everything",
            f"{span([r['sent_s'] for r in results])} / {span([r['done_s'] for r in results])}",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=10_000, help="hostile inputs drawn per run")
    parser.add_argument("--pairs", type=int, default=2_000, help="valid inference/feedback pairs per run")
    parser.add_argument("--runs", type=int, default=1, help="runs, each with a fresh worker and seed")
    args = parser.parse_args()
    for name, value in run(inputs=args.inputs, pairs=args.pairs, runs=args.runs):
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
