-- Deal imports interrupted before migration 0004 kept the organizations and persons they had emitted in
-- their progress (`position.seen_organizations` / `position.seen_persons`). Move those ids into
-- `import_emitted`, where a resumed import reads them, and take them out of the positions: the code reads
-- positions of one shape only. Runs that ended never resume and keep nothing in `import_emitted`.
INSERT INTO import_emitted (tenant_id, run_id, object, pipedrive_id)
SELECT r.tenant_id, r.run_id, k.object, e.id::bigint
  FROM runs r
 CROSS JOIN (VALUES ('seen_organizations', 'organization'), ('seen_persons', 'person')) AS k(field, object)
 CROSS JOIN LATERAL jsonb_array_elements_text(r.progress -> 'position' -> k.field) AS e(id)
 WHERE r.state IN ('queued', 'running', 'paused')
   AND jsonb_typeof(r.progress -> 'position' -> k.field) = 'array'
ON CONFLICT DO NOTHING;

UPDATE runs
   SET progress = jsonb_set(progress, '{position}',
                            (progress -> 'position') - 'seen_organizations' - 'seen_persons')
 WHERE jsonb_typeof(progress -> 'position') = 'object'
   AND (progress -> 'position') ?| ARRAY['seen_organizations', 'seen_persons'];
