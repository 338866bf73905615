-- The pusher's mirror of the tenant's Pipedrive records, fed by source changes and by the answers to its
-- own writes. `update_time` is the version guard; `match_key` is the normalized domain or email.
CREATE TABLE mirror (
    tenant_id text NOT NULL,
    object text NOT NULL,
    pipedrive_id bigint NOT NULL,
    match_key text,
    record jsonb,
    update_time timestamptz NOT NULL,
    deleted boolean NOT NULL DEFAULT false,
    merged_into_id bigint,
    org_id bigint,
    last_change_was_echo boolean NOT NULL DEFAULT false,
    PRIMARY KEY (tenant_id, object, pipedrive_id)
);
CREATE INDEX mirror_by_match_key ON mirror (tenant_id, object, match_key) WHERE NOT deleted;
CREATE INDEX mirror_by_org ON mirror (tenant_id, object, org_id) WHERE NOT deleted;

-- The push ledger: one row per (tenant, object, match key). `state` is `intent` from the moment a
-- creating call may be under way until its result is recorded (`done`). `written` holds the field values
-- (Pipedrive v2 keys) the pusher last wrote and `written_at` when, so echoes are recognized.
CREATE TABLE push_ledger (
    tenant_id text NOT NULL,
    object text NOT NULL,
    match_key text NOT NULL,
    state text NOT NULL,
    planned_body jsonb,
    pipedrive_id bigint,
    intent_at timestamptz,
    written jsonb NOT NULL DEFAULT '{}',
    written_at timestamptz,
    PRIMARY KEY (tenant_id, object, match_key)
);
CREATE INDEX push_ledger_by_pipedrive_id ON push_ledger (tenant_id, object, pipedrive_id);

-- Custom fields the pusher needs (the engagement score), by label, found or created once per account.
CREATE TABLE custom_fields (
    tenant_id text NOT NULL,
    object text NOT NULL,
    label text NOT NULL,
    field_code text NOT NULL,
    PRIMARY KEY (tenant_id, object, label)
);

-- Pushes paused by the tenant's Pipedrive budget (429, exhausted day, Pipedrive down): re-driven after
-- `resume_at`, in arrival order. The event is kept whole; nothing is lost.
CREATE TABLE parked_pushes (
    tenant_id text NOT NULL,
    event_id text NOT NULL,
    topic text NOT NULL,
    event text NOT NULL,
    resume_at timestamptz NOT NULL,
    reason text NOT NULL,
    parked_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (tenant_id, event_id)
);
CREATE INDEX parked_pushes_due ON parked_pushes (resume_at);

-- Manual push batches and auto-push windows: one run each, counted as results come in.
CREATE TABLE push_runs (
    tenant_id text NOT NULL,
    run_id text NOT NULL,
    kind text NOT NULL,
    expected integer,
    started_at timestamptz NOT NULL,
    created integer NOT NULL DEFAULT 0,
    updated integer NOT NULL DEFAULT 0,
    skipped integer NOT NULL DEFAULT 0,
    failed integer NOT NULL DEFAULT 0,
    tokens integer NOT NULL DEFAULT 0,
    finished boolean NOT NULL DEFAULT false,
    PRIMARY KEY (tenant_id, run_id)
);
