-- Audit entries (who changed what: settings, connects, disconnects), written in the transaction of the
-- change and published to psync.audit.v1 after it; a publication that failed is retried.
CREATE TABLE audit_outbox (
    tenant_id text NOT NULL,
    entry_id bigserial NOT NULL,
    entry jsonb NOT NULL,
    published boolean NOT NULL DEFAULT false,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, entry_id)
);
CREATE INDEX audit_outbox_unpublished ON audit_outbox (entry_id) WHERE NOT published;
CREATE INDEX audit_outbox_by_recorded_at ON audit_outbox (recorded_at);
