-- The episode of an alert raised for a standing condition found by polling (a daily budget spent until a
-- day, a connection refused at a time): seen again, it raises nothing, however long it lasts; NULL for
-- alerts of events (run ends, failures, dead letters), which the window alone debounces.
ALTER TABLE alerts ADD COLUMN episode text;
CREATE INDEX alerts_by_episode ON alerts (tenant_id, cause, episode) WHERE episode IS NOT NULL;
