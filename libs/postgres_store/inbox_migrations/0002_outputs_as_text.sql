-- The outputs an event produced are kept as the JSON text the service wrote (postgres_store.inbox reads
-- them back with orjson and never queries inside them): jsonb cost the server a parse of every row's
-- outputs on insert (about a fifth of a batch's inbox write) and a rendering on every read.
ALTER TABLE inbox ALTER COLUMN outputs TYPE text USING outputs::text;
