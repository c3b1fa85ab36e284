"""In-memory sums of one instance version."""

from __future__ import annotations

from streams.metrics.aggregate import BUCKET_MS, RETAIN_MS, Counts, VersionAggregate, bucket_of

NOW = 10_000_000 * BUCKET_MS


def _aggregate(ages_ms):
    agg = VersionAggregate(route="r", first_ts=NOW)
    for age in ages_ms:
        agg.add(bucket_of(NOW - age), "a", "a" if age % 2 == 0 else "b")
    return agg


def test_windows_cover_recent_buckets_and_version_covers_all():
    agg = _aggregate([0, 30_000, 10 * 60_000, 50 * 60_000, 3 * 3_600_000])
    by_name = {w.window: w for w in agg.windows(NOW)}
    assert by_name["1m"].labelled == 2
    assert by_name["15m"].labelled == 3
    assert by_name["1h"].labelled == 4
    assert by_name["version"].labelled == 5
    assert by_name["version"].start_ms == bucket_of(NOW - 3 * 3_600_000)


def test_unlabelled_counts_feed_coverage():
    agg = _aggregate([0])
    agg.add(bucket_of(NOW), None, "a")
    one_minute = next(w for w in agg.windows(NOW) if w.window == "1m")
    assert (one_minute.labelled, one_minute.unlabelled, one_minute.coverage) == (1, 1, 0.5)


def test_folding_old_buckets_keeps_the_version_total():
    agg = _aggregate([0, 2 * 3_600_000, 3 * 3_600_000])
    old = agg.expired(NOW)
    assert old == sorted([bucket_of(NOW - 2 * 3_600_000), bucket_of(NOW - 3 * 3_600_000)])
    for bucket in old:
        agg.fold(bucket)
    assert agg.expired(NOW) == [] and agg.archived_through == max(old)
    by_name = {w.window: w for w in agg.windows(NOW)}
    assert by_name["version"].labelled == 3 and by_name["1h"].labelled == 1
    agg.add(bucket_of(NOW - RETAIN_MS - 3 * 3_600_000), "a", "a")  # late event for an archived bucket
    assert {w.window: w for w in agg.windows(NOW)}["version"].labelled == 3


def test_counts_round_trip_through_json():
    counts = Counts()
    counts.add("a", "b")
    counts.add(None, "a")
    assert Counts.from_json(counts.to_json()) == counts
