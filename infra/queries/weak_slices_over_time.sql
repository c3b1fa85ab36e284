-- Weak slices over time: the worst top slices of every weakness profile (a profile with none: one row, rank 0).
-- @param top = 3 | slices per profile, worst first
-- @param route = '' | only this route (empty: every route)
-- @param instance = '' | only this instance (empty: every instance)
-- @param since = 1970-01-01 00:00:00 | profiles created at or after this time (UTC)
-- @param until = 2100-01-01 00:00:00 | profiles created before this time (UTC)
SELECT
    created_ts,
    route,
    instance_id,
    model_version,
    profile_version,
    events,
    overall_error,
    drift_detected,
    rank,
    JSONExtractString(slice_json, 'description') AS slice,
    JSONExtractUInt(slice_json, 'support') AS support,
    JSONExtract(slice_json, 'error', 'Nullable(Float64)') AS error,
    JSONExtract(slice_json, 'error_low', 'Nullable(Float64)') AS error_low,
    JSONExtract(slice_json, 'error_high', 'Nullable(Float64)') AS error_high,
    JSONExtract(slice_json, 'lift', 'Nullable(Float64)') AS lift,
    JSONExtract(slice_json, 'peer_error', 'Nullable(Float64)') AS peer_error,
    JSONExtractBool(slice_json, 'hard_for_all') AS hard_for_all
FROM profiles FINAL
LEFT ARRAY JOIN
    JSONExtractArrayRaw(slices) AS slice_json,
    arrayEnumerate(JSONExtractArrayRaw(slices)) AS rank
WHERE ({route:String} = '' OR route = {route:String})
  AND ({instance:String} = '' OR instance_id = {instance:String})
  AND created_ts >= {since:DateTime64(3, 'UTC')}
  AND created_ts < {until:DateTime64(3, 'UTC')}
  AND rank <= {top:UInt32}
ORDER BY created_ts, route, instance_id, profile_version, rank
