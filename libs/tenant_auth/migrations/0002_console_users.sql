-- People who sign in to the console. A user belongs to one tenant; the email is unique across tenants
-- (it is what a person signs in with). Passwords are stored only as argon2id hashes.
-- credentials_changed_at moves on every password reset: sessions started before it are over.
CREATE TABLE console_users (
    email text PRIMARY KEY CHECK (email = lower(email)),
    tenant_id text NOT NULL REFERENCES tenants (tenant_id),
    role text NOT NULL CHECK (role IN ('admin', 'viewer')),
    password_hash text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    credentials_changed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX console_users_by_tenant ON console_users (tenant_id, email);
