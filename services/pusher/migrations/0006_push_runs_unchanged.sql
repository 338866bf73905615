-- Records already up to date are counted as `unchanged`, apart from `skipped` (not pushed, for a reason).
ALTER TABLE push_runs ADD COLUMN unchanged integer NOT NULL DEFAULT 0;
