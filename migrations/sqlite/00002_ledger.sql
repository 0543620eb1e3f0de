-- +goose Up
-- Double-entry ledger (core/ledger); the same schema as postgres/00002.

CREATE TABLE ledger_accounts (
    id         INTEGER PRIMARY KEY,
    code       TEXT NOT NULL,
    currency   TEXT NOT NULL,
    flags      INTEGER NOT NULL CHECK (flags IN (0, 1, 2)),
    created_at TIMESTAMP NOT NULL,
    UNIQUE (code, currency)
);

CREATE TABLE ledger_balances (
    account_id      BIGINT NOT NULL REFERENCES ledger_accounts (id),
    shard           INTEGER NOT NULL,
    debits_pending  BIGINT NOT NULL DEFAULT 0,
    debits_posted   BIGINT NOT NULL DEFAULT 0,
    credits_pending BIGINT NOT NULL DEFAULT 0,
    credits_posted  BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, shard)
);

CREATE TABLE ledger_transfers (
    id                INTEGER PRIMARY KEY,
    idempotency_key   TEXT NOT NULL UNIQUE,
    kind              TEXT NOT NULL CHECK (kind IN ('single', 'pending', 'post', 'void', 'expire')),
    debit_account_id  BIGINT NOT NULL REFERENCES ledger_accounts (id),
    credit_account_id BIGINT NOT NULL REFERENCES ledger_accounts (id),
    amount            BIGINT NOT NULL CHECK (amount > 0),
    currency          TEXT NOT NULL,
    pending_id        BIGINT UNIQUE REFERENCES ledger_transfers (id),
    timeout_at        TIMESTAMP,
    memo              TEXT NOT NULL DEFAULT '',
    created_at        TIMESTAMP NOT NULL,
    CHECK (debit_account_id <> credit_account_id),
    CHECK ((kind IN ('single', 'pending')) = (pending_id IS NULL)),
    CHECK (timeout_at IS NULL OR kind = 'pending')
);
CREATE INDEX ledger_transfers_debit ON ledger_transfers (debit_account_id, id);
CREATE INDEX ledger_transfers_credit ON ledger_transfers (credit_account_id, id);
CREATE INDEX ledger_transfers_timeout ON ledger_transfers (timeout_at) WHERE timeout_at IS NOT NULL;

-- +goose StatementBegin
CREATE TRIGGER ledger_transfers_no_update BEFORE UPDATE ON ledger_transfers
BEGIN
    SELECT RAISE(ABORT, 'ledger: UPDATE on ledger_transfers refused: the ledger is append-only');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER ledger_transfers_no_delete BEFORE DELETE ON ledger_transfers
BEGIN
    SELECT RAISE(ABORT, 'ledger: DELETE on ledger_transfers refused: the ledger is append-only');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER ledger_accounts_no_update BEFORE UPDATE ON ledger_accounts
BEGIN
    SELECT RAISE(ABORT, 'ledger: UPDATE on ledger_accounts refused: the ledger is append-only');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER ledger_accounts_no_delete BEFORE DELETE ON ledger_accounts
BEGIN
    SELECT RAISE(ABORT, 'ledger: DELETE on ledger_accounts refused: the ledger is append-only');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER ledger_balances_no_delete BEFORE DELETE ON ledger_balances
BEGIN
    SELECT RAISE(ABORT, 'ledger: DELETE on ledger_balances refused: the ledger is append-only');
END;
-- +goose StatementEnd

-- +goose Down
DROP TABLE ledger_transfers;
DROP TABLE ledger_balances;
DROP TABLE ledger_accounts;
