-- +goose Up
-- Pay-per-minute billing (core/billing) and the show/seat lifecycle
-- (core/shows). Money columns are BIGINT minor units in the seat's payment
-- currency; JSON is stored as TEXT so both dialects hold the same bytes.

CREATE TABLE shows (
    id         TEXT PRIMARY KEY,
    model_id   TEXT NOT NULL,
    studio_id  TEXT NOT NULL DEFAULT '',
    mode       TEXT NOT NULL CHECK (mode IN ('private', 'group')),
    state      TEXT NOT NULL CHECK (state IN ('open', 'ended')),
    opened_at  TIMESTAMPTZ NOT NULL,
    ended_at   TIMESTAMPTZ,
    end_reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX shows_open ON shows (model_id) WHERE state = 'open';

-- One viewer's paid place in a show. The policy (with its locked FX quote) is
-- written once when the seat opens and never changes.
CREATE TABLE billing_seats (
    id               TEXT PRIMARY KEY,
    show_id          TEXT NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('private', 'group')),
    viewer_id        TEXT NOT NULL,
    model_id         TEXT NOT NULL,
    studio_id        TEXT NOT NULL DEFAULT '',
    affiliate_id     TEXT NOT NULL DEFAULT '',
    -- opening: funding the first block; open: metered; closed: billable time
    -- and price decided, settlement under way; settled: done; failed: never
    -- funded (nothing moved) or stopped for an operator (see last_error).
    state            TEXT NOT NULL CHECK (state IN ('opening', 'open', 'closed', 'settled', 'failed')),
    strategy         TEXT NOT NULL CHECK (strategy IN ('card_hold', 'prepaid_blocks', 'wallet')),
    processor        TEXT NOT NULL DEFAULT '',
    currency         TEXT NOT NULL,
    policy           TEXT NOT NULL,
    -- the processor's stored-credential reference (a token, never a card number)
    credential       TEXT NOT NULL DEFAULT '',
    refund_unused    BOOLEAN NOT NULL DEFAULT FALSE,
    funded_amount    BIGINT NOT NULL DEFAULT 0 CHECK (funded_amount >= 0),
    funded_seconds   BIGINT NOT NULL DEFAULT 0 CHECK (funded_seconds >= 0),
    opened_at        TIMESTAMPTZ NOT NULL,
    closed_at        TIMESTAMPTZ,
    close_reason     TEXT NOT NULL DEFAULT '',
    billable_seconds BIGINT CHECK (billable_seconds >= 0),
    price_amount     BIGINT CHECK (price_amount >= 0),
    settled_at       TIMESTAMPTZ,
    last_error       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX billing_seats_unsettled ON billing_seats (state) WHERE state IN ('opening', 'open', 'closed');
CREATE INDEX billing_seats_show ON billing_seats (show_id);

-- The meter's latest checkpoint per seat: its whole snapshot (phase, sides,
-- live intervals). seq only grows, so a slow writer never overwrites a newer
-- checkpoint.
CREATE TABLE billing_checkpoints (
    seat_id          TEXT PRIMARY KEY REFERENCES billing_seats (id),
    seq              BIGINT NOT NULL,
    checkpoint_at_ms BIGINT NOT NULL,
    snapshot         TEXT NOT NULL
);

-- The intent log: every processor call and every ledger batch is written here
-- with its idempotency key before it is made, and its outcome after. An
-- intent still 'pending' after a crash is finished by retrying the same
-- request under the same key.
CREATE TABLE billing_intents (
    key        TEXT PRIMARY KEY,
    seat_id    TEXT NOT NULL REFERENCES billing_seats (id),
    op         TEXT NOT NULL CHECK (op IN ('authorize', 'void', 'charge', 'capture', 'refund', 'ledger')),
    step       INTEGER NOT NULL,
    request    TEXT NOT NULL,
    state      TEXT NOT NULL CHECK (state IN ('pending', 'succeeded', 'declined', 'rejected')),
    result     TEXT NOT NULL DEFAULT '',
    error_code TEXT NOT NULL DEFAULT '',
    error      TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL,
    done_at    TIMESTAMPTZ
);
CREATE INDEX billing_intents_seat ON billing_intents (seat_id, created_at);

-- Funding steps: each hold (card authorisation or ledger hold) and each
-- block charge, with the cumulative ceiling it secured.
CREATE TABLE billing_funding (
    seat_id    TEXT NOT NULL REFERENCES billing_seats (id),
    n          INTEGER NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('card_hold', 'charge', 'wallet_hold')),
    amount     BIGINT NOT NULL CHECK (amount > 0),
    ceiling    BIGINT NOT NULL CHECK (ceiling > 0),
    reference  TEXT NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('open', 'released', 'captured', 'posted', 'charged')),
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (seat_id, n)
);

CREATE TABLE billing_receipts (
    seat_id    TEXT PRIMARY KEY REFERENCES billing_seats (id),
    receipt    TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

-- +goose Down
DROP TABLE billing_receipts;
DROP TABLE billing_funding;
DROP TABLE billing_intents;
DROP TABLE billing_checkpoints;
DROP TABLE billing_seats;
DROP TABLE shows;
