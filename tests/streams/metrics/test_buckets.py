"""Windowed confusion buckets."""

from __future__ import annotations

from streams.metrics.buckets import BUCKET_MS, TOTAL, add_joined, add_unlabelled, bucket_of, new_entry, windows

NOW = 10_000_000 * BUCKET_MS


def _entries(ages_ms):
    entries = {TOTAL: new_entry("r", NOW - max(ages_ms))}
    for age in ages_ms:
        bucket = str(bucket_of(NOW - age))
        entries.setdefault(bucket, new_entry("r", NOW - age))
        add_joined(entries[bucket], "a", "a" if age % 2 == 0 else "b")
        add_joined(entries[TOTAL], "a", "a" if age % 2 == 0 else "b")
    return entries


def test_windows_cover_recent_buckets_and_version_covers_all():
    entries = _entries([0, 30_000, 10 * 60_000, 50 * 60_000, 3 * 3_600_000])
    by_name = {w.window: w for w in windows(entries, NOW)}
    assert by_name["1m"].labelled == 2
    assert by_name["15m"].labelled == 3
    assert by_name["1h"].labelled == 4
    assert by_name["version"].labelled == 5
    assert by_name["version"].start_ms == NOW - 3 * 3_600_000


def test_unlabelled_counts_feed_coverage():
    entries = _entries([0])
    add_unlabelled(entries[str(bucket_of(NOW))])
    add_unlabelled(entries[TOTAL])
    one_minute = next(w for w in windows(entries, NOW) if w.window == "1m")
    assert (one_minute.labelled, one_minute.unlabelled, one_minute.coverage) == (1, 1, 0.5)


def test_empty_windows_are_left_out():
    entries = _entries([2 * 3_600_000])
    assert [w.window for w in windows(entries, NOW)] == ["version"]
