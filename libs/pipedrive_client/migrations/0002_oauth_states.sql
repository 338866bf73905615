-- OAuth `state` values bound to an admin session: single use, expiring.
CREATE TABLE oauth_states (
    state       text PRIMARY KEY,
    tenant_id   text NOT NULL,
    session_id  text NOT NULL,
    expires_at  timestamptz NOT NULL
);
CREATE INDEX oauth_states_expiry ON oauth_states (expires_at);
