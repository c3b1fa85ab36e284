-- How far behind each stage was, per stage over every process: the most messages behind, the 99th percentile and the longest delay from a message's Kafka timestamp to the stage having processed it.
-- @param stage = '' | only this stage (join, metrics, profiling, router, sink; empty: every stage)
-- @param since = 1970-01-01 00:00:00 | measurements at or after this time (UTC)
-- @param until = 2100-01-01 00:00:00 | measurements before this time (UTC)
SELECT
    stage,
    count() AS measurements,
    uniqExact(worker) AS processes,
    sum(processed) AS processed,
    max(messages_behind) AS max_messages_behind,
    round(quantile(0.99)(delay_max_ms) / 1000, 3) AS p99_delay_s,
    round(max(delay_max_ms) / 1000, 3) AS max_delay_s,
    max(ts) AS last_ts
FROM stage_lag FINAL
WHERE ({stage:String} = '' OR stage = {stage:String})
  AND ts >= {since:DateTime64(3, 'UTC')}
  AND ts < {until:DateTime64(3, 'UTC')}
GROUP BY stage
ORDER BY indexOf(['join', 'metrics', 'profiling', 'router', 'sink'], stage), stage
