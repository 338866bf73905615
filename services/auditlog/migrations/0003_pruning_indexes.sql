-- The inbox remembers events only for its window (AUDITLOG_DEDUPE_WINDOW_S): the pruning worker finds
-- the expired rows by time.
CREATE INDEX inbox_by_applied_at ON inbox (applied_at);
