-- how far each stage of each process was behind its inputs (stage.lag), one row per measurement
CREATE TABLE IF NOT EXISTS stage_lag
(
    stage           LowCardinality(String),
    worker          LowCardinality(String),
    ts              DateTime64(3, 'UTC'),
    messages_behind UInt64,
    processed       UInt64,
    delay_max_ms    Nullable(UInt64) COMMENT 'longest Kafka timestamp -> processed, since the previous row',
    newest_age_ms   Nullable(UInt64) COMMENT 'age of the newest message processed'
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (stage, worker, ts);
