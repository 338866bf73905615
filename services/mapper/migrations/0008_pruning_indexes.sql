-- The dead-letter tally remembers events only for its window (MAPPER_DEDUPE_WINDOW_S): the pruning
-- worker finds the expired rows by time.
CREATE INDEX dead_lettered_changes_by_time ON dead_lettered_changes (dead_lettered_at);
