-- The values the pusher last sent to the record, kept when a person changes them in Pipedrive (`written`
-- forgets those): a two-way Overwrite field whose ABM value is still the one last pushed did not change on
-- the ABM side since, so a different value in Pipedrive is the newer change (`pusher.planning`). Rows
-- written before start from what Pipedrive still holds of their writes.
ALTER TABLE push_ledger ADD COLUMN pushed jsonb NOT NULL DEFAULT '{}'::jsonb;
UPDATE push_ledger SET pushed = written WHERE written IS NOT NULL;
