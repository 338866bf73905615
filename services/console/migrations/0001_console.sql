-- Console sessions: the cookie holds a random token; only its SHA-256 is stored.
CREATE TABLE sessions (
    token_sha256 bytea PRIMARY KEY,
    tenant_id text NOT NULL,
    email text NOT NULL,
    csrf_token text NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    notice text
);
CREATE INDEX sessions_by_user ON sessions (email);
CREATE INDEX sessions_by_last_seen ON sessions (last_seen_at);

-- Failed sign-ins, counted per account (email) and per client address over a sliding window.
CREATE TABLE failed_sign_ins (
    scope text NOT NULL CHECK (scope IN ('account', 'address')),
    subject text NOT NULL,
    failed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX failed_sign_ins_by_subject ON failed_sign_ins (scope, subject, failed_at);

-- The API key the console calls the services with, one per tenant, minted through tenant_auth and kept
-- AES-GCM encrypted (tenant as associated data) under CONSOLE_SERVICE_KEYS_KEY.
CREATE TABLE service_keys (
    tenant_id text PRIMARY KEY,
    key_id text NOT NULL,
    sealed_key bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- OAuth connects in flight: the state Pipedrive will hand back, bound to the console session that
-- started it (single use, short-lived).
CREATE TABLE oauth_starts (
    state text PRIMARY KEY,
    session_sha256 bytea NOT NULL,
    tenant_id text NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now()
);
