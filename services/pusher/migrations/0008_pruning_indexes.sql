-- The visit activities are remembered only for their window (PUSHER_DEDUPE_WINDOW_S): the pruning
-- worker finds the expired rows by time.
CREATE INDEX visit_activities_by_time ON visit_activities (intent_at);
