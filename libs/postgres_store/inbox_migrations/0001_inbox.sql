-- The inbox of a consuming service: which events it applied (see postgres_store.inbox), the results each
-- produced (re-sent on a redelivery), found by time by the pruning worker. Written so that it also holds
-- on a schema whose own migrations created the table before the inbox had migrations of its own.
CREATE TABLE IF NOT EXISTS inbox (
    tenant_id text NOT NULL,
    event_id text NOT NULL,
    topic text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, event_id)
);
ALTER TABLE inbox ADD COLUMN IF NOT EXISTS outputs jsonb;
CREATE INDEX IF NOT EXISTS inbox_by_applied_at ON inbox (applied_at);
