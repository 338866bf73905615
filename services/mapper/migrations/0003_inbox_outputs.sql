-- The results an applied event produced, kept so that a redelivery re-sends them (see postgres_store.inbox).
ALTER TABLE inbox ADD COLUMN outputs jsonb;
