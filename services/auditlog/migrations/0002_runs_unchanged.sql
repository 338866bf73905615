-- Records already up to date are counted as `unchanged`, apart from `skipped` (not applied, for a reason).
ALTER TABLE runs ADD COLUMN unchanged integer NOT NULL DEFAULT 0;
