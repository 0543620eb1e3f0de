-- +goose Up
-- The same tables and columns as postgres/00007.
-- The host's one idempotency scheme (core/idempotency): every money-moving
-- POST honours an Idempotency-Key (a client's header, or the key the site's
-- own forms carry). One row per (user, key): the first request claims it
-- ('running', with a lease), its final answer is kept ('done') and replayed
-- to a repeat of the same request for at least a day.
CREATE TABLE idempotency_keys (
    user_id     TEXT NOT NULL,
    -- h:<client header>, f:<digest of a form's key, action and fields>, k:<digest of a route's own key>
    client_key  TEXT NOT NULL,
    -- SHA-256 (hex) of method, path, query and body: another request under the key is refused (422)
    fingerprint TEXT NOT NULL,
    method      TEXT NOT NULL,
    path        TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('running', 'done')),
    -- the claim's holder: only it may complete or release the row
    token       TEXT NOT NULL,
    -- a running claim past this is a dead host's: a repeat may take it over
    lease_until TIMESTAMP NOT NULL,
    status      INTEGER NOT NULL DEFAULT 0,
    -- the replayed headers and Set-Cookie values, JSON
    headers     TEXT NOT NULL DEFAULT '{}',
    body        BLOB,
    created_at  TIMESTAMP NOT NULL,
    expires_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, client_key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);

-- The services are idempotent on the same key, below the HTTP layer: a
-- purchase or a card checkout started under a client's key is found again
-- by a retry (after a 503, or a host crash), which finishes it with the same
-- processor idempotency key instead of starting another.
ALTER TABLE credit_pack_purchases ADD COLUMN client_key TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX credit_pack_purchases_client_key ON credit_pack_purchases (user_id, client_key) WHERE client_key <> '';
ALTER TABLE card_checkouts ADD COLUMN client_key TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX card_checkouts_client_key ON card_checkouts (user_id, client_key) WHERE client_key <> '';

-- +goose Down
DROP INDEX card_checkouts_client_key;
ALTER TABLE card_checkouts DROP COLUMN client_key;
DROP INDEX credit_pack_purchases_client_key;
ALTER TABLE credit_pack_purchases DROP COLUMN client_key;
DROP TABLE idempotency_keys;
