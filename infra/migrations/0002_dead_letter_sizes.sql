-- The full lengths of a dead letter's original key and value (deadletter v2): the bytes kept are cut
-- to INSITU_DEAD_LETTER_MAX_BYTES. -1: no key or value, or a dead letter written before this migration.
ALTER TABLE dead_letters ADD COLUMN IF NOT EXISTS original_key_bytes Int64 DEFAULT -1 AFTER original_value;
ALTER TABLE dead_letters ADD COLUMN IF NOT EXISTS original_value_bytes Int64 DEFAULT -1 AFTER original_key_bytes;
