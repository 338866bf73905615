-- The name of the record an entry is about (a deal's title), as its record result carried it: the run page
-- shows which company a result is about when its match key does not say ('-'). Null for older entries.
ALTER TABLE entries ADD COLUMN name text;
