-- The activity log of the auditlog service (its inbox: postgres_store). Every key starts with the tenant.
CREATE TABLE runs (
    tenant_id text NOT NULL,
    run_id text NOT NULL,
    service text NOT NULL,
    kind text NOT NULL,
    direction text NOT NULL,
    objects text[] NOT NULL,
    trigger text,
    started_at timestamptz NOT NULL,
    finished_at timestamptz,
    created integer NOT NULL DEFAULT 0,
    updated integer NOT NULL DEFAULT 0,
    skipped integer NOT NULL DEFAULT 0,
    failed integer NOT NULL DEFAULT 0,
    tokens_spent integer NOT NULL DEFAULT 0,
    status text,
    message text,
    PRIMARY KEY (tenant_id, run_id)
);
CREATE INDEX runs_by_start ON runs (tenant_id, started_at DESC);

CREATE TABLE entries (
    tenant_id text NOT NULL,
    event_id text NOT NULL,
    run_id text,
    source_topic text NOT NULL,
    object text NOT NULL,
    direction text NOT NULL,
    match_key text NOT NULL,
    pipedrive_id bigint,
    abm_id text,
    outcome text NOT NULL,
    message text,
    tokens_spent integer NOT NULL DEFAULT 0,
    occurred_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, event_id)
);
CREATE INDEX entries_by_run ON entries (tenant_id, run_id, occurred_at);
