-- A hint is taken by one reader for a while (a lease: another replica takes it up if that reader dies),
-- and all hints of a tenant whose Pipedrive budget is closed wait until it reopens, while other
-- tenants' hints go on: both are `not_before` (NULL: ready now).
ALTER TABLE webhook_hints ADD COLUMN not_before timestamptz;
CREATE INDEX webhook_hints_by_tenant ON webhook_hints (tenant_id, hint_id);
