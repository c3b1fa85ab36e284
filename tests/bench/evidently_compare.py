"""Monitoring side by side with Evidently on one event log: metric and drift cost, and the planted weak slice.

``python -m tests.bench.evidently_compare`` prints the table; ``run()`` returns its rows. Evidently comes
with the bench extra (``pip install -e '.[bench]'``) and is imported only here, inside ``run()``; without
it the section is one row saying so.

The event log: joined events of a route of 3 instances, interleaved as they arrive on ``joined.events``.
Each instance has ``REFERENCE`` events (inputs as the simulated route of the profiling tests) and, three
hours later, ``CURRENT`` events over 50 minutes in which ``age`` has drifted (U(18, 58) instead of
U(18, 78)). Every instance errs 5 % of the time; instance ``a`` also misclassifies 80 % of the planted
box ``25 <= age < 45 and income >= 100000`` (systematically as the next label).

- Cost: insitu's streaming path (``VersionAggregate`` confusion counts with bucket folding, plus the
  agent's ``InstanceDrift``: ADWIN on errors, PSI on the numeric features against its first 500
  events) updated per event, then read (metrics of every window of every instance); Evidently: one
  ``Report([ClassificationPreset(), DataDriftPreset(columns=...)])`` per instance, current window
  against the reference window, on pandas frames built from the same log, and the same numbers asked
  of a lean Report of single metrics. Medians of ``REPEATS`` runs after a warm-up. The current-window
  metrics must agree: insitu's ``1h`` window holds exactly the current events.
- The planted slice: the log replayed through a ``RouteProfiler`` as the profiling agent does (drift
  empties the window, a build every 250 events, no SHAP); the weak instance's top slice is scored
  against the planted box on a uniform sample of the input space. Evidently has no slice search:
  the rows say what its presets and ``GroupBy`` segments show about the region.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

import numpy as np

from schemas.slices import Slice
from streams.drift import InstanceDrift
from streams.metrics import VersionAggregate, compute
from streams.metrics.aggregate import bucket_of
from streams.metrics.confusion import Metrics
from streams.profiling import RouteProfiler
from tests.streams.profiling import simulate as sim

ROUTE = "credit"
REFERENCE, CURRENT = 500, 4000  # events per instance
CURRENT_START_MS = 3 * 3_600_000  # the current window starts three hours after the reference
CURRENT_STEP_MS = 750  # 4,000 events in 50 minutes: all inside insitu's 1h window
DRIFTED_AGE_HIGH = 58.0
FEATURES = ["age", "income"]
REPEATS = 5
INSTALL = "pip install -e '.[bench]'"

Log = list[dict[str, Any]]


def instances() -> list[sim.Instance]:
    return [sim.Instance("a", weaknesses=[(sim.planted_box, 0.8)]), sim.Instance("b"), sim.Instance("c")]


def _records(
    rng: np.random.Generator, instance: sim.Instance, n: int, *, start_ms: int, step_ms: int, age_high: float
) -> Log:
    """``n`` joined events of ``instance`` (``simulate.records`` with ``age ~ U(18, age_high)``, real timestamps)."""
    age = rng.uniform(18, age_high, n)
    income = rng.uniform(0, 200_000, n)
    region = np.array(sim.REGIONS, dtype=object)[rng.integers(0, len(sim.REGIONS), n)]
    label = sim.truth(age, income, region)
    wrong = rng.random(n) < instance.error_rate(age, income, region)
    offset = np.where(instance.planted(age, income, region), 1, rng.integers(1, len(sim.LABELS), n))
    index = {name: i for i, name in enumerate(sim.LABELS)}
    out = []
    for i in range(n):
        ts = start_ms + i * step_ms
        prediction = sim.LABELS[(index[label[i]] + offset[i]) % len(sim.LABELS)] if wrong[i] else label[i]
        out.append(
            {
                "request_id": f"{instance.name}-{ts}",
                "route": ROUTE,
                "instance_id": instance.name,
                "model_version": 1,
                "inference_ts": ts,
                "feedback_ts": ts + 500,
                "features": {"age": float(age[i]), "income": float(income[i])},
                "attributes": {"region": str(region[i])},
                "prediction": str(prediction),
                "probabilities": {},
                "label": str(label[i]),
                "correct": not wrong[i],
            }
        )
    return out


def event_log(seed: int = 0) -> Log:
    """Reference then drifted current events of every instance, in arrival order."""
    rng = np.random.default_rng(seed)
    log = []
    for instance in instances():
        log += _records(rng, instance, REFERENCE, start_ms=0, step_ms=1000, age_high=78.0)
        log += _records(
            rng, instance, CURRENT, start_ms=CURRENT_START_MS, step_ms=CURRENT_STEP_MS, age_high=DRIFTED_AGE_HIGH
        )
    return sorted(log, key=lambda r: (r["inference_ts"], r["instance_id"]))


# --- insitu ------------------------------------------------------------------------------------


Fired = dict[str, list[tuple[int, str]]]


def insitu_update(log: Log) -> tuple[dict[str, VersionAggregate], Fired]:
    """Per-event updates of the metric sums (with bucket folding) and of each instance's drift detectors.

    Returns the sums and, per instance, the detectors that fired with the number of that instance's
    current-window events seen when they did (negative: still in the reference window).
    """
    aggregates: dict[str, VersionAggregate] = {}
    detectors: dict[str, InstanceDrift] = {}
    fired: Fired = defaultdict(list)
    seen: Counter[str] = Counter()
    for record in log:
        instance, ts = record["instance_id"], record["inference_ts"]
        agg = aggregates.get(instance)
        if agg is None:
            agg = aggregates[instance] = VersionAggregate(route=record["route"], first_ts=bucket_of(ts))
            detectors[instance] = InstanceDrift()
        agg.add(bucket_of(ts), record["label"], record["prediction"])
        for bucket in agg.expired(ts):
            agg.fold(bucket)
        seen[instance] += 1
        for name in detectors[instance].update(record["correct"], record["features"]):
            fired[instance].append((seen[instance] - REFERENCE, name))
    return aggregates, fired


def insitu_read(aggregates: dict[str, VersionAggregate], now_ms: int) -> dict[str, dict[str, Metrics]]:
    """Metrics of every window (1m, 15m, 1h, version) of every instance, as a snapshot reads them."""
    return {
        instance: {w.window: compute(w.counts) for w in agg.windows(now_ms)} for instance, agg in aggregates.items()
    }


def insitu_stream(log: Log) -> tuple[dict[str, dict[str, Metrics]], Fired]:
    aggregates, fired = insitu_update(log)
    return insitu_read(aggregates, log[-1]["inference_ts"]), fired


def insitu_profiles(log: Log) -> tuple[dict[str, list[dict[str, Any]]], float]:
    """Every profile built while replaying the log as the profiling agent does (without SHAP); build seconds."""
    profiler = RouteProfiler(ROUTE)
    detectors: dict[str, InstanceDrift] = defaultdict(InstanceDrift)
    profiles: dict[str, list[dict[str, Any]]] = defaultdict(list)
    building = 0.0
    for record in log:
        instance = record["instance_id"]
        fired = detectors[instance].update(record["correct"], record["features"])
        if fired:
            profiler.drift(instance, 1, ts=record["feedback_ts"], detectors=fired)
        due = profiler.add(record)
        if due is not None:
            started = time.perf_counter()
            profile, _ = profiler.build(*due, now_ms=record["feedback_ts"])
            building += time.perf_counter() - started
            profiles[due[0]].append(profile)
    return profiles, building


def box_overlap(slice_record: dict[str, Any], frame: Any, planted: np.ndarray) -> tuple[float, float]:
    return sim.precision_recall(Slice.from_predicate(slice_record["predicate"]).mask(frame), planted)


# --- Evidently ---------------------------------------------------------------------------------


def frames(log: Log) -> dict[str, tuple[Any, Any]]:
    """Per instance: (reference, current) pandas frames of the log."""
    import pandas as pd

    columns: dict[str, dict[str, list[Any]]] = defaultdict(lambda: defaultdict(list))
    for r in log:
        c = columns[r["instance_id"]]
        c["ts"].append(r["inference_ts"])
        c["age"].append(r["features"]["age"])
        c["income"].append(r["features"]["income"])
        c["region"].append(r["attributes"]["region"])
        c["target"].append(r["label"])
        c["prediction"].append(r["prediction"])
    out = {}
    for instance, c in columns.items():
        df = pd.DataFrame(c)
        current = df["ts"] >= CURRENT_START_MS
        out[instance] = (df[~current].drop(columns="ts"), df[current].drop(columns="ts"))
    return out


def evidently_reports(pairs: dict[str, tuple[Any, Any]], *, lean: bool = False) -> dict[str, dict[str, Any]]:
    """One Report per instance (classification quality and feature drift, current vs reference), parsed.

    The presets (``lean`` False) are what a user starts from; ``lean`` asks for the same numbers as single
    metrics (accuracy, by-label precision/recall/F1, one ``ValueDrift`` per feature), the least work
    Evidently can be asked to do for them.
    """
    from evidently import DataDefinition, Dataset, MulticlassClassification, Report
    from evidently.metrics import Accuracy, F1ByLabel, PrecisionByLabel, RecallByLabel, ValueDrift
    from evidently.presets import ClassificationPreset, DataDriftPreset

    definition = DataDefinition(
        numerical_columns=FEATURES,
        categorical_columns=["region"],
        classification=[MulticlassClassification(target="target", prediction_labels="prediction")],
    )
    out = {}
    for instance, (reference, current) in pairs.items():
        if lean:
            metrics = [Accuracy(), PrecisionByLabel(), RecallByLabel(), F1ByLabel()]
            metrics += [ValueDrift(column=feature) for feature in FEATURES]
        else:
            metrics = [ClassificationPreset(), DataDriftPreset(columns=FEATURES)]
        snapshot = Report(metrics).run(
            Dataset.from_pandas(current, data_definition=definition),
            Dataset.from_pandas(reference, data_definition=definition),
        )
        out[instance] = parse(snapshot.dict())
    return out


def parse(result: dict[str, Any]) -> dict[str, Any]:
    """The values this comparison reads from ``Snapshot.dict()``: accuracy, by-label metrics, per-column drift."""
    parsed: dict[str, Any] = {"drift": {}}
    for metric in result["metrics"]:
        kind = metric["config"]["type"].rsplit(":", 1)[-1]
        if kind == "Accuracy":
            parsed["accuracy"] = float(metric["value"])
        elif kind in ("PrecisionByLabel", "RecallByLabel", "F1ByLabel"):
            parsed[kind] = {str(k): float(v) for k, v in metric["value"].items()}
        elif kind == "ValueDrift":
            config = metric["config"]
            value, threshold = float(metric["value"]), float(config["threshold"])
            drifted = value < threshold if "p_value" in config["method"] else value >= threshold
            parsed["drift"][config["column"]] = (config["method"], value, drifted)
    return parsed


def disagreement(insitu: dict[str, Metrics], evidently: dict[str, Any]) -> float:
    """Largest absolute difference over accuracy and per-class precision, recall and F1."""
    m = insitu["1h"]
    diffs = [abs(m.accuracy - evidently["accuracy"])]
    for c in m.per_class:
        diffs += [
            abs(c.precision - evidently["PrecisionByLabel"][c.label]),
            abs(c.recall - evidently["RecallByLabel"][c.label]),
            abs(c.f1 - evidently["F1ByLabel"][c.label]),
        ]
    return max(diffs)


def segments(current: Any) -> dict[str, dict[str, float]]:
    """Evidently ``GroupBy`` on hand-made segments of one instance's current window.

    Keys: ``accuracy/<column>`` (``GroupBy(Accuracy())``) and ``correct/<column>`` (``GroupBy(MeanValue)`` of
    a 0/1 correctness column, i.e. accuracy per segment), for ``region`` and decile bins of the features.
    """
    import pandas as pd
    from evidently import DataDefinition, Dataset, MulticlassClassification, Report
    from evidently.metrics import Accuracy, GroupBy, MeanValue

    df = current.copy()
    df["correct"] = (df["target"] == df["prediction"]).astype(float)
    binned = []
    for feature in FEATURES:
        edges = np.unique(np.quantile(df[feature], np.linspace(0, 1, 11)))
        edges[0], edges[-1] = -np.inf, np.inf
        df[f"{feature}_bin"] = pd.cut(df[feature], edges, right=False).map(_interval).astype(str)
        binned.append(f"{feature}_bin")
    groups = ["region", *binned]
    definition = DataDefinition(
        numerical_columns=[*FEATURES, "correct"],
        categorical_columns=groups,
        classification=[MulticlassClassification(target="target", prediction_labels="prediction")],
    )
    metrics = [GroupBy(Accuracy(), column) for column in groups]
    metrics += [GroupBy(MeanValue(column="correct"), column) for column in groups]
    snapshot = Report(metrics).run(Dataset.from_pandas(df, data_definition=definition), None)
    out: dict[str, dict[str, float]] = defaultdict(dict)
    for metric in snapshot.dict()["metrics"]:
        config = metric["config"]
        prefix = "accuracy" if config["metric"]["type"].endswith(":Accuracy") else "correct"
        out[f"{prefix}/{config['column_name']}"][str(config["label"])] = float(metric["value"])
    return out


def _interval(interval: Any) -> str:
    """``[low,high)`` with thousands as ``k`` and open ends left blank."""
    ends = [float(interval.left), float(interval.right)]
    kilo = max(abs(x) for x in ends if np.isfinite(x)) >= 1000
    low, high = ("" if not np.isfinite(x) else f"{x / 1000:.0f}k" if kilo else f"{x:.0f}" for x in ends)
    return f"[{low},{high})"


# --- the comparison ----------------------------------------------------------------------------


def _median_seconds(action: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def _evidently_version() -> str | None:
    try:
        import evidently
    except ImportError:
        return None
    return str(evidently.__version__)


def run(repeats: int = REPEATS) -> list[tuple[str, str]]:
    version = _evidently_version()
    if version is None:
        return [("monitoring vs Evidently", f"skipped: Evidently not importable; install the bench extra ({INSTALL})")]
    log = event_log()
    n = len(log)
    per_instance = f"{REFERENCE:,} reference + {CURRENT:,} drifted current events"
    rows = [("event log", f"3 instances x ({per_instance}) = {n:,} joined events; Evidently {version}")]
    rows += _cost_rows(log, repeats)
    rows += _insitu_slice_rows(log)
    rows += _evidently_slice_rows(log)
    return rows


def _cost_rows(log: Log, repeats: int) -> list[tuple[str, str]]:
    n = len(log)
    insitu_stream(log)  # warm-up
    insitu_s, (metrics, fired) = _median_seconds(lambda: insitu_stream(log), repeats)
    aggregates, _ = insitu_update(log)
    read_s, _ = _median_seconds(lambda: insitu_read(aggregates, log[-1]["inference_ts"]), repeats)
    evidently_reports(frames(log[: 3 * (REFERENCE + 200)]))  # warm-up: imports, first calls
    frames_s, pairs = _median_seconds(lambda: frames(log), repeats)
    reports_s, reports = _median_seconds(lambda: evidently_reports(pairs), repeats)
    lean_s, lean = _median_seconds(lambda: evidently_reports(pairs, lean=True), repeats)
    instances = sorted(reports)
    drift = {i: {c: d for c, (_, _, d) in reports[i]["drift"].items()} for i in instances}
    false_alarms = sorted({f"{c} on {i}" for i in instances for c, d in drift[i].items() if d and c != "age"})
    return [
        (
            "insitu: metric sums + ADWIN/PSI updated per event, then every window read",
            f"{insitu_s * 1000:,.0f} ms ({n / insitu_s:,.0f} events/s)",
        ),
        (
            "insitu: the read alone (4 windows x 3 instances, confusion -> metrics)",
            f"{read_s * 1000:,.2f} ms",
        ),
        ("Evidently: event log -> pandas frames (reference, current per instance)", f"{frames_s * 1000:,.0f} ms"),
        (
            "Evidently: 3 Reports (ClassificationPreset + DataDriftPreset), current vs reference",
            f"{reports_s * 1000:,.0f} ms ({reports_s * 1000 / 3:,.0f} ms per instance; "
            f"{n / (reports_s + frames_s):,.0f} events/s with the frames)",
        ),
        (
            "Evidently: 3 lean Reports (Accuracy, Precision/Recall/F1ByLabel, ValueDrift per feature)",
            f"{lean_s * 1000:,.0f} ms ({lean_s * 1000 / 3:,.0f} ms per instance; "
            f"{n / (lean_s + frames_s):,.0f} events/s with the frames)",
        ),
        (
            "current-window accuracy, insitu 1h window / Evidently",
            ", ".join(f"{i}: {metrics[i]['1h'].accuracy:.4f} / {reports[i]['accuracy']:.4f}" for i in instances),
        ),
        (
            "max |insitu - Evidently| over accuracy, per-class precision/recall/F1 (3 instances, both Reports)",
            f"{max(disagreement(metrics[i], r[i]) for r in (reports, lean) for i in instances):.1e}",
        ),
        (
            "insitu drift detectors (InstanceDrift defaults: PSI vs first 500 events, ADWIN on errors)",
            "; ".join(
                f"{i}: " + (", ".join(f"{name} after {k} current events" for k, name in fired[i]) or "none")
                for i in instances
            ),
        ),
        (
            "Evidently DataDriftPreset per column (default test, drift at p < 0.05)",
            "; ".join(
                f"{i}: "
                + ", ".join(
                    f"{col} {'DRIFT' if drifted else 'ok'} ({method} {value:.2g})"
                    for col, (method, value, drifted) in sorted(reports[i]["drift"].items())
                )
                for i in instances
            )
            + (f"; false alarms (only age was shifted): {', '.join(false_alarms)}" if false_alarms else ""),
        ),
    ]


def _insitu_slice_rows(log: Log) -> list[tuple[str, str]]:
    frame, age, income, region = sim.uniform_frame(np.random.default_rng(99), 20_000)
    planted = sim.planted_box(age, income, region)
    started = time.perf_counter()
    profiles, building = insitu_profiles(log)
    replay = time.perf_counter() - started
    builds = sum(len(p) for p in profiles.values())
    weak = profiles["a"]
    hits = sum(1 for p in weak if p["slices"] and min(box_overlap(p["slices"][0], frame, planted)) >= 0.8)
    top = weak[-1]["slices"][0] if weak[-1]["slices"] else None
    if top is None:
        found = "no slice -> MISSED"
    else:
        precision, recall = box_overlap(top, frame, planted)
        found = (
            f"'{top['description']}': error {top['error']:.2f} (Wilson low {top['error_low']:.2f}) vs peers "
            f"{top['peer_error']:.2f}, hard_for_all={top['hard_for_all']}; vs the planted box precision "
            f"{precision:.2f}, recall {recall:.2f} -> {'FOUND' if min(precision, recall) >= 0.8 else 'MISSED'}"
        )
    peer_overlap = sum(
        1
        for peer in ("b", "c")
        for p in profiles[peer]
        for s in p["slices"]
        if box_overlap(s, frame, planted)[1] >= 0.5
    )
    return [
        (
            "insitu: replay through RouteProfiler (drift clears windows, build every 250 events, no SHAP)",
            f"{replay:,.1f} s, {builds} builds ({building * 1000 / builds:,.0f} ms per build)",
        ),
        (f"insitu: top slice of a (last build, {weak[-1]['events']:,} post-drift events)", found),
        ("insitu: builds of a whose top slice is the planted box (P, R >= 0.8)", f"{hits} of {len(weak)}"),
        ("insitu: slices of peers b, c covering half the box or more (all builds)", str(peer_overlap)),
    ]


def _evidently_slice_rows(log: Log) -> list[tuple[str, str]]:
    pairs = frames(log)
    reports = evidently_reports(pairs)
    a, peers = reports["a"], [reports["b"], reports["c"]]
    worst = sorted(
        ((kind, label, value) for kind in ("RecallByLabel", "PrecisionByLabel") for label, value in a[kind].items()),
        key=lambda t: t[2],
    )[:2]
    by_label = "; ".join(
        f"{kind.removesuffix('ByLabel').lower()} '{label}' {value:.2f} (peers "
        + "/".join(f"{p[kind][label]:.2f}" for p in peers)
        + ")"
        for kind, label, value in worst
    )
    drifted = {i: sorted(c for c, (_, _, d) in r["drift"].items() if d) for i, r in reports.items()}
    seg = segments(pairs["a"][1])
    overall = a["accuracy"]
    groupby_accuracy = sorted(
        {round(v, 4) for key, values in seg.items() if key.startswith("accuracy/") for v in values.values()}
    )
    rows = [
        ("Evidently: slice search", "none (no API searches for slices; segments are columns the user picks)"),
        (
            "Evidently ClassificationPreset: a's weakest by-label values (current)",
            f"{by_label} -> a class, not a region",
        ),
        (
            "Evidently DataDriftPreset: drifted columns per instance",
            ", ".join(f"{i}: {'/'.join(c) or 'none'}" for i, c in sorted(drifted.items()))
            + " -> the age shift shows on every instance alike; nothing singles out a or a region",
        ),
        (
            "Evidently GroupBy(Accuracy()) of a by region and by hand-made age, income deciles",
            f"distinct values {groupby_accuracy}, a's overall accuracy {overall:.4f}"
            + (" -> every segment gets the overall accuracy" if groupby_accuracy == [round(overall, 4)] else ""),
        ),
    ]
    for column in ("region", *(f"{f}_bin" for f in FEATURES)):
        values = sorted(seg[f"correct/{column}"].items(), key=lambda kv: _bin_low(kv[0]))
        rows.append(
            (
                f"Evidently GroupBy(MeanValue('correct')) of a by {column.replace('_bin', ' deciles (hand-made)')}",
                ", ".join(f"{k} {v:.2f}" for k, v in values),
            )
        )
    weak_bins = {
        f: sorted((k for k, v in seg[f"correct/{f}_bin"].items() if v < overall - 0.1), key=_bin_low) for f in FEATURES
    }
    rows.append(
        (
            f"reading those deciles: bins below a's accuracy - 0.1 ({overall - 0.1:.2f})",
            "; ".join(f"{f}: {', '.join(b) or 'none'}" for f, b in weak_bins.items())
            + " -> 1-D marginals that hint at the box because its two features and the bins were picked by hand;"
            " no conjunction, no significance test, no peer comparison",
        )
    )
    return rows


def _bin_low(label: str) -> tuple[float, str]:
    """Sort key of a segment label: category names in order, then bins ``[low,high)`` by their low end."""
    if not label.startswith("["):
        return (-np.inf, label)
    low = label[1:].split(",", 1)[0]
    if not low:
        return (-1e300, label)
    return (float(low.removesuffix("k")) * (1000 if low.endswith("k") else 1), label)


def main() -> None:
    rows = run()
    width = max(len(name) for name, _ in rows)
    print(f"| {'what':<{width}} | result |")
    print(f"|{'-' * (width + 2)}|--------|")
    for name, value in rows:
        print(f"| {name:<{width}} | {value} |")


if __name__ == "__main__":
    main()
