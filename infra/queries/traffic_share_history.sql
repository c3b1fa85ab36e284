-- Traffic share history: every routing epoch's weight per instance version, as a share of its route.
-- @param route = '' | only this route (empty: every route)
-- @param instance = '' | only this instance (empty: every instance)
-- @param since = 1970-01-01 00:00:00 | epochs at or after this time (UTC)
-- @param until = 2100-01-01 00:00:00 | epochs before this time (UTC)
SELECT
    ts,
    route,
    epoch,
    instance_id,
    version,
    role,
    weight,
    if(route_weight > 0, weight / route_weight, 0) AS share,
    frozen,
    reason
FROM
(
    SELECT *, sum(weight) OVER (PARTITION BY route, epoch, ts) AS route_weight
    FROM routing_history FINAL
    WHERE ({route:String} = '' OR route = {route:String})
      AND ts >= {since:DateTime64(3, 'UTC')}
      AND ts < {until:DateTime64(3, 'UTC')}
)
WHERE ({instance:String} = '' OR instance_id = {instance:String})
ORDER BY route, ts, epoch, instance_id, version
