-- +goose Up
-- Host-wide key/value settings (for example the deployment's id). It is the
-- base every later migration builds on.
CREATE TABLE settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE settings;
