-- Rolled-back versions: when each became a candidate, was promoted, was rolled back, and why.
-- @param route = '' | only this route (empty: every route)
-- @param instance = '' | only this instance (empty: every instance)
-- @param since = 1970-01-01 00:00:00 | rollbacks at or after this time (UTC)
-- @param until = 2100-01-01 00:00:00 | rollbacks before this time (UTC)
SELECT
    maxIf(ts, status = 'rolled_back') AS rolled_back_ts,
    route,
    instance_id,
    version,
    minIfOrNull(ts, status = 'candidate') AS candidate_ts,
    minIfOrNull(ts, status = 'promoted') AS promoted_ts,
    dateDiff('millisecond', candidate_ts, rolled_back_ts) / 1000 AS candidate_for_s,
    argMaxIf(reason, ts, status = 'rolled_back') AS reason,
    argMax(status, ts) AS latest_status
FROM model_versions FINAL
WHERE ({route:String} = '' OR route = {route:String})
  AND ({instance:String} = '' OR instance_id = {instance:String})
GROUP BY route, instance_id, version
HAVING countIf(status = 'rolled_back') > 0
   AND rolled_back_ts >= {since:DateTime64(3, 'UTC')}
   AND rolled_back_ts < {until:DateTime64(3, 'UTC')}
ORDER BY rolled_back_ts, route, instance_id, version
