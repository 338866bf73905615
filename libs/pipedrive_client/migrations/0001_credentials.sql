-- Tenants' Pipedrive credentials, encrypted (AES-GCM, tenant id as associated data).
CREATE TABLE credentials (
    tenant_id   text PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('api_token', 'oauth')),
    ciphertext  bytea NOT NULL,
    api_domain  text NOT NULL,
    expires_at  timestamptz,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    version     bigint NOT NULL DEFAULT 1
);
