-- +goose Up
-- The same tables and columns as postgres/00009.
-- Live state of core/shows (its SQLStore): who is on air, the requests
-- waiting for a model, and the seat of each private show, so a restarted
-- host lists the same shows and requests and settles or resumes the seats.
CREATE TABLE shows_broadcasts (
    id           TEXT PRIMARY KEY,
    model_id     TEXT NOT NULL UNIQUE,
    -- the WHIP bearer of the broadcast: an encoder keeps publishing with it across a restart
    stream_key   TEXT NOT NULL UNIQUE,
    since        TIMESTAMP NOT NULL,
    mode         TEXT NOT NULL CHECK (mode IN ('public', 'private', 'group')),
    -- the publisher's media was flowing at the last change
    media        BOOLEAN NOT NULL DEFAULT FALSE,
    -- core/shows' paid show and its seat while the broadcast is private
    paid_show_id TEXT NOT NULL DEFAULT '',
    seat_id      TEXT NOT NULL DEFAULT ''
);

CREATE TABLE shows_requests (
    id          TEXT PRIMARY KEY,
    show_id     TEXT NOT NULL,
    viewer_id   TEXT NOT NULL,
    viewer_name TEXT NOT NULL,
    model_id    TEXT NOT NULL,
    at          TIMESTAMP NOT NULL,
    rate_amount BIGINT NOT NULL,
    rate_currency TEXT NOT NULL,
    -- 'waiting' for the model; 'held' while she is private with someone else
    state       TEXT NOT NULL CHECK (state IN ('waiting', 'held')),
    UNIQUE (show_id, viewer_id)
);

CREATE TABLE shows_seats (
    id           TEXT PRIMARY KEY,
    show_id      TEXT NOT NULL,
    paid_show_id TEXT NOT NULL,
    viewer_id    TEXT NOT NULL,
    viewer_name  TEXT NOT NULL,
    model_id     TEXT NOT NULL,
    -- SHA-256 (hex) of the viewer's WHEP bearer: the token itself is never stored
    token_hash   TEXT NOT NULL,
    -- the policy billing locked on the seat (JSON, billing.PricePolicy)
    policy       TEXT NOT NULL,
    funding      TEXT NOT NULL,
    opened_at    TIMESTAMP NOT NULL,
    funded_seconds BIGINT NOT NULL DEFAULT 0
);

-- +goose Down
DROP TABLE shows_seats;
DROP TABLE shows_requests;
DROP TABLE shows_broadcasts;
