-- When each tenant's changes (deletes and merges included) were last scanned through /v1/recents: the
-- next sync asks recents for what changed since then, less the overlap.
CREATE TABLE change_scans (
    tenant_id       text PRIMARY KEY,
    scanned_through timestamptz NOT NULL
);

-- The organization and person each record pointed to when it was last emitted: a record deleted while
-- its persons and deals moved to another one was merged into that one.
ALTER TABLE record_versions ADD COLUMN org_id bigint, ADD COLUMN person_id bigint;
