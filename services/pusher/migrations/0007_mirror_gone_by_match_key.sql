-- Records Pipedrive deleted or merged away, by match key: a push for such a key is not re-created by
-- auto-push (a merged one's survivor is updated instead).
CREATE INDEX mirror_gone_by_match_key ON mirror (tenant_id, object, match_key) WHERE deleted;
