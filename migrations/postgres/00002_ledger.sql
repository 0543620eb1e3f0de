-- +goose Up
-- Double-entry ledger (core/ledger). Accounts and transfers are immutable;
-- balances live in sharded rows so that an unconstrained ("hot") account is
-- moved without a row lock on the account itself. See core/ledger's doc.

CREATE TABLE ledger_accounts (
    id         BIGSERIAL PRIMARY KEY,
    code       TEXT NOT NULL,
    currency   TEXT NOT NULL,
    -- 1 = debits_must_not_exceed_credits, 2 = credits_must_not_exceed_debits
    flags      INTEGER NOT NULL CHECK (flags IN (0, 1, 2)),
    created_at TIMESTAMPTZ NOT NULL,
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
    id                BIGSERIAL PRIMARY KEY,
    idempotency_key   TEXT NOT NULL UNIQUE,
    kind              TEXT NOT NULL CHECK (kind IN ('single', 'pending', 'post', 'void', 'expire')),
    debit_account_id  BIGINT NOT NULL REFERENCES ledger_accounts (id),
    credit_account_id BIGINT NOT NULL REFERENCES ledger_accounts (id),
    amount            BIGINT NOT NULL CHECK (amount > 0),
    currency          TEXT NOT NULL,
    -- post/void/expire name the pending transfer they resolve; UNIQUE makes
    -- "resolved at most once" a property of the database, not of the code.
    pending_id        BIGINT UNIQUE REFERENCES ledger_transfers (id),
    timeout_at        TIMESTAMPTZ,
    memo              TEXT NOT NULL DEFAULT '',
    created_at        TIMESTAMPTZ NOT NULL,
    CHECK (debit_account_id <> credit_account_id),
    CHECK ((kind IN ('single', 'pending')) = (pending_id IS NULL)),
    CHECK (timeout_at IS NULL OR kind = 'pending')
);
CREATE INDEX ledger_transfers_debit ON ledger_transfers (debit_account_id, id);
CREATE INDEX ledger_transfers_credit ON ledger_transfers (credit_account_id, id);
CREATE INDEX ledger_transfers_timeout ON ledger_transfers (timeout_at) WHERE timeout_at IS NOT NULL;

-- +goose StatementBegin
CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger: % on % refused: the ledger is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END
$$;
-- +goose StatementEnd

CREATE TRIGGER ledger_transfers_append_only BEFORE UPDATE OR DELETE ON ledger_transfers
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_transfers_no_truncate BEFORE TRUNCATE ON ledger_transfers
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_accounts_append_only BEFORE UPDATE OR DELETE ON ledger_accounts
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_accounts_no_truncate BEFORE TRUNCATE ON ledger_accounts
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
-- Balance shards are only ever added to; a deleted shard would lose money.
CREATE TRIGGER ledger_balances_no_delete BEFORE DELETE ON ledger_balances
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_balances_no_truncate BEFORE TRUNCATE ON ledger_balances
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();

-- +goose Down
DROP TABLE ledger_transfers;
DROP TABLE ledger_balances;
DROP TABLE ledger_accounts;
DROP FUNCTION ledger_refuse_change();
