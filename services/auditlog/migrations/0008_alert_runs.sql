-- The run an alert of a run's end is about (the first run of its window when later ones were debounced
-- into it), so the console's banner can link to the run's page; NULL for every other cause.
ALTER TABLE alerts ADD COLUMN run_id text;
