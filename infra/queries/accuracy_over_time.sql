-- Accuracy per instance over time in buckets of bucket_s seconds (UTC, by inference time).
-- @param bucket_s = 60 | bucket width in seconds (at least 1)
-- @param route = '' | only this route (empty: every route)
-- @param instance = '' | only this instance (empty: every instance)
-- @param since = 1970-01-01 00:00:00 | events at or after this time (UTC)
-- @param until = 2100-01-01 00:00:00 | events before this time (UTC)
SELECT
    toStartOfInterval(inference_ts, toIntervalSecond(greatest({bucket_s:UInt32}, 1))) AS bucket,
    route,
    instance_id,
    count() AS events,
    sum(correct) AS correct_events,
    avg(correct) AS accuracy,
    arraySort(groupUniqArray(model_version)) AS versions
FROM joined_events FINAL
WHERE ({route:String} = '' OR route = {route:String})
  AND ({instance:String} = '' OR instance_id = {instance:String})
  AND inference_ts >= {since:DateTime64(3, 'UTC')}
  AND inference_ts < {until:DateTime64(3, 'UTC')}
GROUP BY bucket, route, instance_id
ORDER BY bucket, route, instance_id
