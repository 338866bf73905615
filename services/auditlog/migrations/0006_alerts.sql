-- Alerts of each tenant: its settings (notification webhook, failure threshold and window), the alerts
-- raised (one per cause per window: the banner's active ones are those not acknowledged), and the outbox of
-- webhook deliveries (written with the alert, so a crash loses none; retried with backoff until delivered).
CREATE TABLE alert_settings (
    tenant_id text PRIMARY KEY,
    webhook_url text,
    failure_threshold integer NOT NULL,
    window_minutes integer NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE alerts (
    tenant_id text NOT NULL,
    alert_id text NOT NULL,
    cause text NOT NULL,
    title text NOT NULL,
    detail text NOT NULL,
    raised_at timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    occurrences integer NOT NULL DEFAULT 1,
    acknowledged_at timestamptz,
    acknowledged_by text,
    PRIMARY KEY (tenant_id, alert_id)
);
CREATE INDEX alerts_by_cause ON alerts (tenant_id, cause, raised_at DESC);
CREATE INDEX alerts_active ON alerts (tenant_id, raised_at DESC) WHERE acknowledged_at IS NULL;

CREATE TABLE alert_deliveries (
    tenant_id text NOT NULL,
    alert_id text NOT NULL,
    payload jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    delivered_at timestamptz,
    abandoned_at timestamptz,
    last_error text,
    PRIMARY KEY (tenant_id, alert_id)
);
CREATE INDEX alert_deliveries_due ON alert_deliveries (next_attempt_at)
    WHERE delivered_at IS NULL AND abandoned_at IS NULL;
