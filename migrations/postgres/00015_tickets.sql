-- +goose Up
-- Ticket shows (core/tickets): a model's scheduled show with a ticket price,
-- and the tickets viewers bought for it. A ticket's money is a ledger hold
-- keyed by the ticket (ticket/<id>/hold) until the show is over; these rows
-- say where it stands, the ledger is the truth of what moved.
CREATE TABLE tickets_shows (
    id               TEXT PRIMARY KEY,
    model_id         TEXT NOT NULL,
    title            TEXT NOT NULL,
    price_amount     BIGINT NOT NULL,
    price_currency   TEXT NOT NULL,
    starts_at        TIMESTAMPTZ NOT NULL,
    duration_seconds BIGINT NOT NULL,
    doors_close_at   TIMESTAMPTZ NOT NULL,
    capacity         INTEGER NOT NULL,
    state            TEXT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    started_at       TIMESTAMPTZ,
    ended_at         TIMESTAMPTZ
);
CREATE INDEX tickets_shows_model ON tickets_shows (model_id, starts_at);

-- One ticket per viewer and show: a second purchase finds the first.
CREATE TABLE tickets (
    id                TEXT PRIMARY KEY,
    show_id           TEXT NOT NULL REFERENCES tickets_shows (id),
    viewer_id         TEXT NOT NULL,
    model_id          TEXT NOT NULL,
    price_amount      BIGINT NOT NULL,
    price_currency    TEXT NOT NULL,
    state             TEXT NOT NULL,
    posted_amount     BIGINT NOT NULL,
    refunded_amount   BIGINT NOT NULL,
    bought_at         TIMESTAMPTZ NOT NULL,
    settled_at        TIMESTAMPTZ,
    UNIQUE (show_id, viewer_id)
);
CREATE INDEX tickets_viewer ON tickets (viewer_id, bought_at);

-- +goose Down
DROP TABLE tickets;
DROP TABLE tickets_shows;
