-- `links_by_abm_id` led with (tenant_id, object), the primary key's prefix. Before a table's first
-- ANALYZE (a new tenant's first import runs before autovacuum gets to it) the planner could look links up
-- by Pipedrive id through this index, filtering every link of the tenant for each key of a batch: seconds
-- per batch, growing with the import. Leading with abm_id, it serves only lookups by ABM id.
DROP INDEX links_by_abm_id;
CREATE INDEX links_by_abm_id ON links (abm_id, tenant_id, object);
