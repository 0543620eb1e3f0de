-- +goose Up
-- A model's persistent WHIP stream key: an encoder (OBS) is set up once with
-- it and publishes with it to every show of hers, until she rotates it.
-- It is kept in the clear, unlike seat tokens: her dashboard shows it (and
-- hands it to its own browser publisher) on every visit, so a hash would not
-- do. Rotating it replaces the row; the old key then resolves to nobody.
CREATE TABLE shows_stream_keys (
    model_id   TEXT PRIMARY KEY,
    stream_key TEXT NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL
);

-- +goose Down
DROP TABLE shows_stream_keys;
