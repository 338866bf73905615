-- The connector's own state. Every key starts with the tenant; every query filters on it.

-- The versioned sync settings of each tenant (the payload published on psync.settings.v1, no secrets),
-- plus the webhook receiver's Basic auth (the password only as a SHA-256 hash) and registered webhooks.
CREATE TABLE tenant_settings (
    tenant_id           text PRIMARY KEY,
    version             integer NOT NULL,
    settings            jsonb NOT NULL,
    published_version   integer NOT NULL DEFAULT 0,
    webhook_user        text,
    webhook_secret_hash bytea,
    webhook_ids         bigint[] NOT NULL DEFAULT '{}',
    updated_at          timestamptz NOT NULL DEFAULT now()
);

-- The incremental read position per tenant and object: the highest update_time emitted.
CREATE TABLE cursors (
    tenant_id      text NOT NULL,
    object         text NOT NULL,
    cursor         timestamptz,
    reconciled_at  timestamptz,
    PRIMARY KEY (tenant_id, object)
);

-- The last version emitted per record: dedupes the overlap window and feeds the reconciliation of ids.
CREATE TABLE record_versions (
    tenant_id    text NOT NULL,
    object       text NOT NULL,
    pipedrive_id bigint NOT NULL,
    update_time  timestamptz NOT NULL,
    deleted      boolean NOT NULL DEFAULT false,
    PRIMARY KEY (tenant_id, object, pipedrive_id)
);

-- Runs: syncs and imports, queued, running, paused (budget) or finished; one at a time per tenant.
CREATE TABLE runs (
    tenant_id       text NOT NULL,
    run_id          text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('sync', 'import')),
    trigger         text NOT NULL,
    state           text NOT NULL CHECK (state IN ('queued', 'running', 'paused', 'finished', 'cancelled')),
    spec            jsonb NOT NULL DEFAULT '{}',
    progress        jsonb NOT NULL DEFAULT '{}',
    counts          jsonb NOT NULL DEFAULT '{}',
    tokens_spent    bigint NOT NULL DEFAULT 0,
    status          text,
    message         text,
    cancel_requested boolean NOT NULL DEFAULT false,
    resume_at       timestamptz,
    queued_at       timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    finished_at     timestamptz,
    PRIMARY KEY (tenant_id, run_id)
);
CREATE INDEX runs_open ON runs (state, resume_at) WHERE state IN ('queued', 'running', 'paused');

-- Webhook deliveries already accepted (by meta.id), and the hints waiting to be re-read.
CREATE TABLE webhook_deliveries (
    tenant_id   text NOT NULL,
    delivery_id text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, delivery_id)
);

CREATE TABLE webhook_hints (
    hint_id       bigserial PRIMARY KEY,
    tenant_id     text NOT NULL,
    object        text NOT NULL,
    pipedrive_id  bigint NOT NULL,
    action        text NOT NULL,
    merged_to_id  bigint,
    delivery_id   text NOT NULL,
    received_at   timestamptz NOT NULL DEFAULT now()
);
