-- A record version is its update_time and a digest of its content: Pipedrive stamps whole seconds, so two
-- edits of one record within a second share an update_time, and only the content tells the second one
-- from a re-read of the first. NULL for versions stored before (they compare by update_time only).
ALTER TABLE record_versions ADD COLUMN digest text;
