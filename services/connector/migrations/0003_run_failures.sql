-- How many times a run failed for a reason that is neither Pipedrive's answer nor the world around
-- it (a bug, data no rule expected): it is retried with a growing delay, then closed as Error.
ALTER TABLE runs ADD COLUMN failures integer NOT NULL DEFAULT 0;
