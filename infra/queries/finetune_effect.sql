-- The effect of each fine-tune: slice and complement accuracy old -> new on held-out rows, flips, fate.
-- @param route = '' | only this route (empty: every route)
-- @param instance = '' | only this instance (empty: every instance)
-- @param since = 1970-01-01 00:00:00 | fine-tunes at or after this time (UTC)
-- @param until = 2100-01-01 00:00:00 | fine-tunes before this time (UTC)
SELECT
    route,
    instance_id,
    version,
    anyIf(parent_version, gated) AS parent_version,
    minIf(ts, gated) AS finetuned_ts,
    argMaxIf(metrics['slice_rows'], ts, gated) AS slice_rows,
    argMaxIf(metrics['slice_accuracy_old'], ts, gated) AS slice_accuracy_old,
    argMaxIf(metrics['slice_accuracy_new'], ts, gated) AS slice_accuracy_new,
    slice_accuracy_new - slice_accuracy_old AS slice_gain,
    argMaxIf(metrics['complement_rows'], ts, gated) AS complement_rows,
    argMaxIf(metrics['complement_accuracy_old'], ts, gated) AS complement_accuracy_old,
    argMaxIf(metrics['complement_accuracy_new'], ts, gated) AS complement_accuracy_new,
    complement_accuracy_new - complement_accuracy_old AS complement_change,
    argMaxIf(metrics['negative_flip_rate'], ts, gated) AS negative_flip_rate,
    argMax(status, ts) AS latest_status,
    max(ts) AS status_ts,
    arrayStringConcat(arrayMap(event -> event.2, arraySort(groupArray((ts, status)))), ' > ') AS history,
    argMaxIf(reason, ts, gated) AS finetune_reason,
    argMax(reason, ts) AS status_reason
FROM
(
    SELECT *, mapContains(metrics, 'slice_accuracy_old') AS gated
    FROM model_versions FINAL
    WHERE ({route:String} = '' OR route = {route:String})
      AND ({instance:String} = '' OR instance_id = {instance:String})
)
GROUP BY route, instance_id, version
HAVING countIf(gated) > 0
   AND finetuned_ts >= {since:DateTime64(3, 'UTC')}
   AND finetuned_ts < {until:DateTime64(3, 'UTC')}
ORDER BY finetuned_ts, route, instance_id, version
