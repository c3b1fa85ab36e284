-- Every status change of a model version (candidate, promoted, rejected, rolled_back) in time order.
-- @param status = '' | only this status (empty: every status)
-- @param route = '' | only this route (empty: every route)
-- @param instance = '' | only this instance (empty: every instance)
-- @param since = 1970-01-01 00:00:00 | changes at or after this time (UTC)
-- @param until = 2100-01-01 00:00:00 | changes before this time (UTC)
SELECT
    ts,
    route,
    instance_id,
    version,
    parent_version,
    status,
    reason,
    event_id
FROM model_versions FINAL
WHERE ({status:String} = '' OR status = {status:String})
  AND ({route:String} = '' OR route = {route:String})
  AND ({instance:String} = '' OR instance_id = {instance:String})
  AND ts >= {since:DateTime64(3, 'UTC')}
  AND ts < {until:DateTime64(3, 'UTC')}
ORDER BY ts, route, instance_id, version, event_id
