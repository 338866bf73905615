-- The pusher's replica of tenant settings (its inbox: postgres_store). Every key starts with the tenant.
CREATE TABLE tenant_settings (
    tenant_id text PRIMARY KEY,
    version integer NOT NULL,
    settings jsonb NOT NULL,
    event_id text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
