-- +goose Up
-- Accounts (core/accounts) and chat (core/chat): users, sessions, the 18+
-- gate, model profiles and rates, the card on file, credit-pack purchases,
-- chat history and tips. Money columns are BIGINT minor units; lists are JSON
-- stored as TEXT so both dialects hold the same bytes.

-- email_key is the address lower-cased: it is what is unique, so that
-- Alice@Example.com and alice@example.com are one account on both dialects.
CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL,
    email_key     TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('viewer', 'model', 'studio', 'admin')),
    status        TEXT NOT NULL CHECK (status IN ('active', 'suspended')),
    password_hash TEXT NOT NULL,
    -- a model may broadcast only once an admin approved her
    approved_at   TIMESTAMPTZ,
    approved_by   TEXT NOT NULL DEFAULT '',
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX users_pending_models ON users (created_at) WHERE role = 'model' AND approved_at IS NULL;

-- A server-side session. id is the SHA-256 (hex) of the cookie's random
-- token: a copy of this table lets nobody log in.
CREATE TABLE sessions (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id),
    created_at   TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    revoked_at   TIMESTAMPTZ,
    ip_hash      TEXT NOT NULL DEFAULT '',
    user_agent   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Each "I am 18 or older" a visitor clicked: when, from where (a keyed hash
-- of the IP, never the address), and who, when signed in.
CREATE TABLE age_confirmations (
    id           TEXT PRIMARY KEY,
    confirmed_at TIMESTAMPTZ NOT NULL,
    minimum_age  INTEGER NOT NULL,
    ip_hash      TEXT NOT NULL,
    user_id      TEXT REFERENCES users (id),
    user_agent   TEXT NOT NULL DEFAULT ''
);

CREATE TABLE model_profiles (
    user_id       TEXT PRIMARY KEY REFERENCES users (id),
    bio           TEXT NOT NULL DEFAULT '',
    tags          TEXT NOT NULL DEFAULT '[]',
    rate_amount   BIGINT NOT NULL CHECK (rate_amount >= 0),
    rate_currency TEXT NOT NULL,
    studio_id     TEXT REFERENCES users (id),
    updated_at    TIMESTAMPTZ NOT NULL
);

-- Every change of a model's per-minute rate. An open seat locked its own
-- copy of the rate; this is the history a dispute team reads.
CREATE TABLE model_rate_changes (
    id              BIGSERIAL PRIMARY KEY,
    model_id        TEXT NOT NULL REFERENCES users (id),
    previous_amount BIGINT NOT NULL,
    rate_amount     BIGINT NOT NULL,
    rate_currency   TEXT NOT NULL,
    changed_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX model_rate_changes_model ON model_rate_changes (model_id, id);

-- The one card on file per user: the processor's stored credential only
-- (an opaque token and what may be shown), never a card number.
CREATE TABLE payment_methods (
    user_id      TEXT PRIMARY KEY REFERENCES users (id),
    processor    TEXT NOT NULL,
    token        TEXT NOT NULL,
    brand        TEXT NOT NULL DEFAULT '',
    last4        TEXT NOT NULL DEFAULT '',
    exp_month    INTEGER NOT NULL DEFAULT 0,
    exp_year     INTEGER NOT NULL DEFAULT 0,
    customer_ref TEXT NOT NULL DEFAULT '',
    created_at   TIMESTAMPTZ NOT NULL
);

-- A card checkout in progress: the return URL carries our id, this row
-- names the processor's checkout and the user who started it.
CREATE TABLE card_checkouts (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id),
    processor    TEXT NOT NULL,
    reference    TEXT NOT NULL DEFAULT '',
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    completed_at TIMESTAMPTZ
);

-- A credit pack bought with the card on file. Written 'pending' before the
-- processor is called (key creditpack/<id>), so a crash is finished by
-- retrying the same charge and the same ledger batch.
CREATE TABLE credit_pack_purchases (
    id               TEXT PRIMARY KEY,
    user_id          TEXT NOT NULL REFERENCES users (id),
    pack_id          TEXT NOT NULL,
    processor        TEXT NOT NULL,
    -- the stored credential's token charged (never a card number), so a
    -- retry repeats the very same request even if the card was replaced since
    credential       TEXT NOT NULL,
    price_amount     BIGINT NOT NULL CHECK (price_amount > 0),
    bonus_amount     BIGINT NOT NULL CHECK (bonus_amount >= 0),
    currency         TEXT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('pending', 'succeeded', 'declined', 'failed')),
    charge_reference TEXT NOT NULL DEFAULT '',
    error_code       TEXT NOT NULL DEFAULT '',
    error            TEXT NOT NULL DEFAULT '',
    created_at       TIMESTAMPTZ NOT NULL,
    done_at          TIMESTAMPTZ
);
CREATE INDEX credit_pack_purchases_user ON credit_pack_purchases (user_id, created_at);
CREATE INDEX credit_pack_purchases_pending ON credit_pack_purchases (created_at) WHERE state = 'pending';

-- Chat history per show (core/chat), capped per show. seq orders it.
CREATE TABLE chat_messages (
    seq          BIGSERIAL PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    show_id      TEXT NOT NULL,
    user_id      TEXT NOT NULL DEFAULT '',
    author       TEXT NOT NULL DEFAULT '',
    role         TEXT NOT NULL DEFAULT '',
    kind         TEXT NOT NULL CHECK (kind IN ('message', 'tip', 'system')),
    text         TEXT NOT NULL,
    tip_amount   BIGINT NOT NULL DEFAULT 0,
    tip_currency TEXT NOT NULL DEFAULT '',
    created_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX chat_messages_show ON chat_messages (show_id, seq);

-- A tip is idempotent by the id its sender's client chose: the first one
-- moves money and is announced, a repeat finds this row.
CREATE TABLE chat_tips (
    viewer_id    TEXT NOT NULL,
    tip_id       TEXT NOT NULL,
    show_id      TEXT NOT NULL,
    model_id     TEXT NOT NULL,
    amount       BIGINT NOT NULL CHECK (amount > 0),
    currency     TEXT NOT NULL,
    message_id   TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (viewer_id, tip_id)
);

-- +goose Down
DROP TABLE chat_tips;
DROP TABLE chat_messages;
DROP TABLE credit_pack_purchases;
DROP TABLE card_checkouts;
DROP TABLE payment_methods;
DROP TABLE model_rate_changes;
DROP TABLE model_profiles;
DROP TABLE age_confirmations;
DROP TABLE sessions;
DROP TABLE users;
