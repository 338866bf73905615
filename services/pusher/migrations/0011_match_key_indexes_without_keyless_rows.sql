-- The match-key indexes leave out rows without a match key: every deal (the mirror keys none) and the
-- records with no usable website or email. No read asks for a null key (`match_key = $3` implies it is not
-- null, so the prepared statements' generic plans still use these indexes); each such row cost an index
-- entry and its WAL on every insert and every non-HOT update.
DROP INDEX mirror_by_match_key;
CREATE INDEX mirror_by_match_key ON mirror (tenant_id, object, match_key)
    WHERE NOT deleted AND match_key IS NOT NULL;
DROP INDEX mirror_gone_by_match_key;
CREATE INDEX mirror_gone_by_match_key ON mirror (tenant_id, object, match_key)
    WHERE deleted AND match_key IS NOT NULL;
