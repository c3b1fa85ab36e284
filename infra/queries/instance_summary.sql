-- Per instance: labelled events, accuracy overall and over its latest final_events events, versions served.
-- @param final_events = 200 | final accuracy is taken over each instance's latest N events
-- @param route = '' | only this route (empty: every route)
-- @param instance = '' | only this instance (empty: every instance)
-- @param since = 1970-01-01 00:00:00 | events at or after this time (UTC)
-- @param until = 2100-01-01 00:00:00 | events before this time (UTC)
SELECT
    route,
    instance_id,
    count() AS events,
    sum(correct) AS correct_events,
    avg(correct) AS accuracy,
    countIf(recency <= {final_events:UInt32}) AS final_window_events,
    avgIf(correct, recency <= {final_events:UInt32}) AS final_accuracy,
    argMax(model_version, (inference_ts, request_id)) AS latest_version,
    arraySort(groupUniqArray(model_version)) AS versions,
    min(inference_ts) AS first_ts,
    max(inference_ts) AS last_ts
FROM
(
    SELECT
        route,
        instance_id,
        request_id,
        model_version,
        inference_ts,
        correct,
        row_number() OVER (PARTITION BY route, instance_id ORDER BY inference_ts DESC, request_id DESC) AS recency
    FROM joined_events FINAL
    WHERE ({route:String} = '' OR route = {route:String})
      AND ({instance:String} = '' OR instance_id = {instance:String})
      AND inference_ts >= {since:DateTime64(3, 'UTC')}
      AND inference_ts < {until:DateTime64(3, 'UTC')}
)
GROUP BY route, instance_id
ORDER BY route, instance_id
