-- The inbox and the dead-letter tally remember events only for their window (MAPPER_DEDUPE_WINDOW_S):
-- the pruning worker finds the expired rows by time.
CREATE INDEX inbox_by_applied_at ON inbox (applied_at);
CREATE INDEX dead_lettered_changes_by_time ON dead_lettered_changes (dead_lettered_at);
