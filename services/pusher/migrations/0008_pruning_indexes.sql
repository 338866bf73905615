-- The inbox and the visit activities remember events only for their window (PUSHER_DEDUPE_WINDOW_S):
-- the pruning worker finds the expired rows by time.
CREATE INDEX inbox_by_applied_at ON inbox (applied_at);
CREATE INDEX visit_activities_by_time ON visit_activities (intent_at);
