-- +goose Up
-- Routing between processors and swapping them (core/routing, core/accounts).
-- The same tables and columns as postgres/00008.
--
-- A viewer keeps one card on file per processor: a card stored with a
-- processor the site no longer funds with (retired) still serves that
-- processor's refunds, chargebacks and open seats, while new funding asks
-- for a card at an active one. country is the card's BIN country where the
-- processor reports it, for [routing] rules. The table is rebuilt because
-- its key changes (SQLite cannot alter a primary key).
CREATE TABLE payment_methods_v2 (
    user_id      TEXT NOT NULL REFERENCES users (id),
    processor    TEXT NOT NULL,
    token        TEXT NOT NULL,
    brand        TEXT NOT NULL DEFAULT '',
    last4        TEXT NOT NULL DEFAULT '',
    exp_month    INTEGER NOT NULL DEFAULT 0,
    exp_year     INTEGER NOT NULL DEFAULT 0,
    customer_ref TEXT NOT NULL DEFAULT '',
    country      TEXT NOT NULL DEFAULT '',
    created_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, processor)
);
INSERT INTO payment_methods_v2 (user_id, processor, token, brand, last4, exp_month, exp_year, customer_ref, created_at)
    SELECT user_id, processor, token, brand, last4, exp_month, exp_year, customer_ref, created_at FROM payment_methods;
DROP TABLE payment_methods;
ALTER TABLE payment_methods_v2 RENAME TO payment_methods;
CREATE INDEX payment_methods_processor ON payment_methods (processor);

-- A credit pack cascades between processors: processor and credential are
-- the attempt under way, charge_key its processor idempotency key
-- (creditpack/<id>/via/<processor>; empty on rows written before routing,
-- whose one attempt used creditpack/<id>). declined_via lists the
-- processors that soft-declined it, in order, comma-separated.
ALTER TABLE credit_pack_purchases ADD COLUMN charge_key TEXT NOT NULL DEFAULT '';
ALTER TABLE credit_pack_purchases ADD COLUMN declined_via TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE credit_pack_purchases DROP COLUMN declined_via;
ALTER TABLE credit_pack_purchases DROP COLUMN charge_key;
DROP INDEX payment_methods_processor;
CREATE TABLE payment_methods_v1 (
    user_id      TEXT PRIMARY KEY REFERENCES users (id),
    processor    TEXT NOT NULL,
    token        TEXT NOT NULL,
    brand        TEXT NOT NULL DEFAULT '',
    last4        TEXT NOT NULL DEFAULT '',
    exp_month    INTEGER NOT NULL DEFAULT 0,
    exp_year     INTEGER NOT NULL DEFAULT 0,
    customer_ref TEXT NOT NULL DEFAULT '',
    created_at   TIMESTAMP NOT NULL
);
-- one card per user again: the newest
INSERT INTO payment_methods_v1 (user_id, processor, token, brand, last4, exp_month, exp_year, customer_ref, created_at)
    SELECT p.user_id, p.processor, p.token, p.brand, p.last4, p.exp_month, p.exp_year, p.customer_ref, p.created_at FROM payment_methods p
    WHERE NOT EXISTS (SELECT 1 FROM payment_methods q WHERE q.user_id = p.user_id
        AND (q.created_at > p.created_at OR (q.created_at = p.created_at AND q.processor > p.processor)));
DROP TABLE payment_methods;
ALTER TABLE payment_methods_v1 RENAME TO payment_methods;
