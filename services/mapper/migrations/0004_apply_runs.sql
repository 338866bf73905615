-- The mapper's apply runs, one per connector run: what it applied of the run's source changes (counted in
-- the transaction of each batch, so a redelivery dropped by the inbox never counts twice) and, once the
-- connector's RunFinished arrived, how many changes the connector emitted. The run is reported (once,
-- `reported_at`) when applied reaches emitted.
CREATE TABLE apply_runs (
    tenant_id text NOT NULL,
    source_run_id text NOT NULL,
    created integer NOT NULL DEFAULT 0,
    updated integer NOT NULL DEFAULT 0,
    skipped integer NOT NULL DEFAULT 0,
    failed integer NOT NULL DEFAULT 0,
    emitted integer,
    source_kind text,
    objects text[] NOT NULL DEFAULT '{}',
    first_applied_at timestamptz,
    last_applied_at timestamptz,
    reported_at timestamptz,
    PRIMARY KEY (tenant_id, source_run_id)
);
