-- Operator commands and what became of each (accepted or rejected, and why), in time order.
-- @param action = '' | only this action, e.g. rollback, pin, freeze (empty: every action)
-- @param result = '' | only accepted or only rejected (empty: both)
-- @param instance = '' | only commands that target this instance (empty: every command)
-- @param since = 1970-01-01 00:00:00 | commands issued at or after this time (UTC)
-- @param until = 2100-01-01 00:00:00 | commands issued before this time (UTC)
SELECT
    issued_ts,
    received_ts,
    command_id,
    action,
    targets,
    issuer,
    key_id,
    result,
    reason,
    detail
FROM command_audit FINAL
WHERE ({action:String} = '' OR action = {action:String})
  AND ({result:String} = '' OR result = {result:String})
  AND ({instance:String} = ''
       OR arrayExists(target -> splitByChar('@', target)[1] = concat('instance:', {instance:String}), targets))
  AND issued_ts >= {since:DateTime64(3, 'UTC')}
  AND issued_ts < {until:DateTime64(3, 'UTC')}
ORDER BY issued_ts, command_id, result, reason
