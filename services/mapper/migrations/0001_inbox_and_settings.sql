-- The mapper's inbox and its replica of tenant settings. Every key starts with the tenant.
CREATE TABLE inbox (
    tenant_id text NOT NULL,
    event_id text NOT NULL,
    topic text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, event_id)
);

CREATE TABLE tenant_settings (
    tenant_id text PRIMARY KEY,
    version integer NOT NULL,
    settings jsonb NOT NULL,
    event_id text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
