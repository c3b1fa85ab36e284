-- Analytics tables written by the sink. Every table is a ReplacingMergeTree whose
-- ORDER BY is the natural identity of a row, so a replayed event collapses into
-- one row after a merge (or at once with FINAL). Timestamps are UTC milliseconds.
-- A statement ends with ';' at the end of a line.

-- inference ⋈ feedback, one row per request
CREATE TABLE IF NOT EXISTS joined_events
(
    request_id    String,
    route         LowCardinality(String),
    instance_id   LowCardinality(String),
    model_version UInt32,
    inference_ts  DateTime64(3, 'UTC'),
    feedback_ts   DateTime64(3, 'UTC'),
    features      Map(String, Float64),
    attributes    Map(String, String),
    prediction    LowCardinality(String),
    probabilities Map(String, Float64),
    label         LowCardinality(String),
    correct       UInt8,
    ingested_at   DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(inference_ts)
ORDER BY (route, instance_id, request_id);

-- per-instance metrics over a named window; every snapshot is kept (take the
-- latest per window with argMax(..., snapshot_ts))
CREATE TABLE IF NOT EXISTS metric_snapshots
(
    instance_id        LowCardinality(String),
    route              LowCardinality(String),
    model_version      UInt32,
    window             LowCardinality(String),
    window_start       DateTime64(3, 'UTC'),
    snapshot_ts        DateTime64(3, 'UTC'),
    labelled           UInt64,
    unlabelled         UInt64,
    label_coverage     Float64,
    accuracy           Float64,
    macro_precision    Float64,
    macro_recall       Float64,
    macro_f1           Float64,
    per_class_precision Map(String, Float64),
    per_class_recall   Map(String, Float64),
    per_class_f1       Map(String, Float64),
    per_class_support  Map(String, UInt64),
    confusion          String COMMENT 'JSON: non-zero confusion cells'
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(window_start)
ORDER BY (route, instance_id, model_version, window, window_start, snapshot_ts);

-- weakness profiles, one row per (instance, profile_version)
CREATE TABLE IF NOT EXISTS profiles
(
    instance_id        LowCardinality(String),
    route              LowCardinality(String),
    model_version      UInt32,
    profile_version    UInt64,
    created_ts         DateTime64(3, 'UTC'),
    window             LowCardinality(String),
    events             UInt64,
    overall_error      Float64,
    overall_error_low  Float64,
    overall_error_high Float64,
    top_slice          String,
    slices             String COMMENT 'JSON: top slices, worst first',
    shap_attribution   Map(String, Float64),
    drift_detected     UInt8,
    profile            String COMMENT 'JSON: the full profile event'
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(created_ts)
ORDER BY (route, instance_id, profile_version);

-- synthetic batches, summarised (the rows themselves stay on Kafka)
CREATE TABLE IF NOT EXISTS synthetic_batches
(
    batch_id        String,
    instance_id     LowCardinality(String),
    route           LowCardinality(String),
    model_version   UInt32,
    profile_version UInt64,
    created_ts      DateTime64(3, 'UTC'),
    target_slices   Array(String),
    rows            UInt64,
    dropped         UInt64,
    acceptance_rate Float64,
    label_sources   Map(String, UInt64),
    quality         Map(String, Float64)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(created_ts)
ORDER BY (route, instance_id, batch_id);

-- candidate / promoted / rejected / rolled_back events of model versions
CREATE TABLE IF NOT EXISTS model_versions
(
    event_id       String,
    instance_id    LowCardinality(String),
    route          LowCardinality(String),
    version        UInt32,
    parent_version Nullable(UInt32),
    status         LowCardinality(String),
    ts             DateTime64(3, 'UTC'),
    reason         String,
    metrics        Map(String, Float64),
    weights_uri    String
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (route, instance_id, version, event_id);

-- routing weight vectors, one row per (route, epoch, instance version)
CREATE TABLE IF NOT EXISTS routing_history
(
    route       LowCardinality(String),
    epoch       UInt64,
    instance_id LowCardinality(String),
    version     UInt32,
    ts          DateTime64(3, 'UTC'),
    reason      String,
    weight      Float64,
    role        LowCardinality(String),
    frozen      UInt8
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (route, epoch, instance_id, version);

-- every operator command and what became of it; one row per distinct outcome
CREATE TABLE IF NOT EXISTS command_audit
(
    command_id  String,
    action      LowCardinality(String),
    targets     Array(String),
    issuer      String,
    issued_ts   DateTime64(3, 'UTC'),
    key_id      String,
    received_ts DateTime64(3, 'UTC'),
    result      LowCardinality(String) COMMENT 'accepted or rejected',
    reason      String COMMENT 'machine-readable: empty when accepted, else e.g. bad_signature, stale, replay',
    detail      String
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(issued_ts)
ORDER BY (command_id, result, reason);

-- rejected input. Records from Kafka are identified by where they came from;
-- records that never were on Kafka (partition and offset -1) by when and what
-- they were, so that distinct ones do not collapse into one.
CREATE TABLE IF NOT EXISTS dead_letters
(
    original_topic     LowCardinality(String),
    original_partition Int32,
    original_offset    Int64,
    original_key       Nullable(String),
    original_value     Nullable(String),
    reason             LowCardinality(String),
    detail             String,
    source             LowCardinality(String),
    ts                 DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (
    original_topic, original_partition, original_offset, source, reason,
    if(original_offset < 0, cityHash64(ts, ifNull(original_key, ''), ifNull(original_value, '')), 0)
);
