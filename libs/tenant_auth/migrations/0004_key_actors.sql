-- Who issued and who revoked each key (the admin command's operator, or the API caller): the activity
-- log's audit entries list key changes with their actor.
ALTER TABLE api_keys ADD COLUMN issued_by text, ADD COLUMN revoked_by text;
CREATE INDEX api_keys_by_tenant_and_time ON api_keys (tenant_id, created_at);
