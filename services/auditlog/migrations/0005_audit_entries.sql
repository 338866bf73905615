-- Audit entries: who changed what of a tenant's integration (settings, connects, disconnects), and when.
CREATE TABLE audit_entries (
    tenant_id text NOT NULL,
    event_id text NOT NULL,
    action text NOT NULL,
    actor_key_id text,
    actor_name text,
    at timestamptz NOT NULL,
    changes jsonb NOT NULL,
    detail text,
    PRIMARY KEY (tenant_id, event_id)
);
CREATE INDEX audit_entries_by_time ON audit_entries (tenant_id, at DESC, event_id DESC);
