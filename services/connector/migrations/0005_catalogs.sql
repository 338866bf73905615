-- The catalog of each tenant's connected Pipedrive (fields, pipelines and stages, users, company), read
-- through the client and kept until it is refreshed (connector.catalog).
CREATE TABLE catalogs (
    tenant_id    text PRIMARY KEY,
    catalog      jsonb NOT NULL,
    refreshed_at timestamptz NOT NULL
);
