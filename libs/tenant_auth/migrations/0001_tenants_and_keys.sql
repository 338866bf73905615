-- Tenants and their API keys. Keys are stored only as SHA-256 hashes of their secret part.
CREATE TABLE tenants (
    tenant_id text PRIMARY KEY,
    name text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
    tenant_id text NOT NULL REFERENCES tenants (tenant_id),
    key_id text NOT NULL,
    secret_sha256 bytea NOT NULL,
    label text,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz,
    PRIMARY KEY (tenant_id, key_id)
);
CREATE UNIQUE INDEX api_keys_by_id ON api_keys (key_id);
