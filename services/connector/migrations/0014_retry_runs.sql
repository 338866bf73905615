-- Retry runs: the failed records of a run read again by id (POST /v1/retries, asked by the auditlog).
ALTER TABLE runs DROP CONSTRAINT runs_kind_check;
ALTER TABLE runs ADD CONSTRAINT runs_kind_check CHECK (kind IN ('sync', 'import', 'retry'));
