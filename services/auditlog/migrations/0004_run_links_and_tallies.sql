-- A run's own status as its producer reported it (`own_status`); `status` is what the activity log shows:
-- a connector run that emitted records is running until its apply run ends, then the worse of the two.
ALTER TABLE runs
    ADD COLUMN own_status text,
    ADD COLUMN emitted integer,
    ADD COLUMN applies_run_id text,
    ADD COLUMN retry_of text;
UPDATE runs SET own_status = status;
CREATE INDEX runs_by_applied_run ON runs (tenant_id, applies_run_id) WHERE applies_run_id IS NOT NULL;
CREATE INDEX runs_by_retried_run ON runs (tenant_id, retry_of) WHERE retry_of IS NOT NULL;

-- Per run, outcome and reason: how many entries and tokens, counted with the entries (same transaction),
-- so a running run shows live counts and every run the top reasons of what it skipped or failed.
CREATE TABLE run_tallies (
    tenant_id text NOT NULL,
    run_id text NOT NULL,
    outcome text NOT NULL,
    reason text NOT NULL,
    records integer NOT NULL,
    tokens integer NOT NULL,
    PRIMARY KEY (tenant_id, run_id, outcome, reason)
);
