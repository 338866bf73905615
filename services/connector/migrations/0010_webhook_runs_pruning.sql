-- Finished webhook windows are pruned after the webhook delivery window (by their start).
CREATE INDEX webhook_runs_by_start ON webhook_runs (started_at);
