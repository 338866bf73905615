-- Webhook changes as runs: one window per tenant and hour, what its hint re-reads emitted and spent, and
-- whether its end was reported.
CREATE TABLE webhook_runs (
    tenant_id  text NOT NULL,
    run_id     text NOT NULL,
    started_at timestamptz NOT NULL,
    emitted    integer NOT NULL DEFAULT 0,
    tokens     integer NOT NULL DEFAULT 0,
    finished   boolean NOT NULL DEFAULT false,
    PRIMARY KEY (tenant_id, run_id)
);
CREATE INDEX webhook_runs_open ON webhook_runs (started_at) WHERE NOT finished;
