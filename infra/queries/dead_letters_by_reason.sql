-- Dead letters by reason, topic and source: how many, first and last seen, the first one's detail.
-- @param topic = '' | only records from this topic (empty: every topic)
-- @param since = 1970-01-01 00:00:00 | dead letters at or after this time (UTC)
-- @param until = 2100-01-01 00:00:00 | dead letters before this time (UTC)
SELECT
    reason,
    original_topic,
    source,
    count() AS dead_letters,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    argMin(detail, ts) AS example_detail
FROM dead_letters FINAL
WHERE ({topic:String} = '' OR original_topic = {topic:String})
  AND ts >= {since:DateTime64(3, 'UTC')}
  AND ts < {until:DateTime64(3, 'UTC')}
GROUP BY reason, original_topic, source
ORDER BY dead_letters DESC, reason, original_topic, source
