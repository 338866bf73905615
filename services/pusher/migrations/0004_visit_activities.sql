-- Pages a revealed company's visitors viewed, added once per reveal event as a done activity on the
-- organization. `state` is `intent` from just before the creating call until its result is recorded.
CREATE TABLE visit_activities (
    tenant_id text NOT NULL,
    event_id text NOT NULL,
    org_id bigint NOT NULL,
    state text NOT NULL,
    activity_id bigint,
    intent_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (tenant_id, event_id)
);
