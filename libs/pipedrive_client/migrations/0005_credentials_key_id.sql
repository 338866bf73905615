-- The id of the key each ciphertext was written under (pipedrive_client.crypto.key_id_of), so keys can
-- be rotated. NULL: written before keys had ids; every configured key is tried, and re-encrypt gives the
-- row the current key's id. (0004 belongs to the connection identity migration.)
ALTER TABLE credentials ADD COLUMN key_id text;
CREATE INDEX credentials_by_key_id ON credentials (key_id);
