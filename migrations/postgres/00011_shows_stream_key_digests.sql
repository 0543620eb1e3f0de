-- +goose Up
-- A model's stream key is kept as its digest only, SHA-256 (hex) like a
-- seat's token: a copy of the database no longer streams as anyone. The key
-- is 24 random bytes the host made, so a fast hash is enough (nothing to
-- brute-force); core/shows.StreamKeyDigest computes the same. Her dashboard
-- shows the key once, when made or rotated, and afterwards key_hint: its
-- first 8 characters and "…". The broadcast's copy becomes the digest too.
ALTER TABLE shows_stream_keys RENAME COLUMN stream_key TO key_digest;
ALTER TABLE shows_stream_keys ADD COLUMN key_hint TEXT NOT NULL DEFAULT '';
UPDATE shows_stream_keys
SET key_hint = substr(key_digest, 1, 8) || '…',
    key_digest = encode(sha256(convert_to(key_digest, 'UTF8')), 'hex');
ALTER TABLE shows_broadcasts RENAME COLUMN stream_key TO key_digest;
UPDATE shows_broadcasts SET key_digest = encode(sha256(convert_to(key_digest, 'UTF8')), 'hex');

-- +goose Down
-- A digest cannot become its key again: every model gets a new key on her
-- next dashboard, and her encoder must be given it.
DELETE FROM shows_stream_keys;
ALTER TABLE shows_broadcasts RENAME COLUMN key_digest TO stream_key;
ALTER TABLE shows_stream_keys DROP COLUMN key_hint;
ALTER TABLE shows_stream_keys RENAME COLUMN key_digest TO stream_key;
