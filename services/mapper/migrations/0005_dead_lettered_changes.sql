-- Source changes the mapper sent to its DLQ: each counted once as failed in its run, with the failed
-- result it produced (re-sent when the event fails again). Not in the inbox: a re-drive of the dead
-- letter, once the cause is fixed, must still apply it.
CREATE TABLE dead_lettered_changes (
    tenant_id text NOT NULL,
    event_id text NOT NULL,
    outputs jsonb,
    dead_lettered_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, event_id)
);
