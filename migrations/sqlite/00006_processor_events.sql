-- +goose Up
-- The same table as postgres/00006.
-- Verified processor notifications as the host received them (core/billing
-- HandleProcessorEvents), one row per (processor, event id): processors
-- redeliver until they get a 2xx, and a row here makes every redelivery a
-- no-op. Refunds and chargebacks carry the reversal they were booked as.

CREATE TABLE processor_events (
    processor         TEXT NOT NULL,
    event_id          TEXT NOT NULL,
    type              TEXT NOT NULL,
    reference         TEXT NOT NULL DEFAULT '',
    related_reference TEXT NOT NULL DEFAULT '',
    amount            BIGINT NOT NULL DEFAULT 0 CHECK (amount >= 0),
    currency          TEXT NOT NULL DEFAULT '',
    -- pending: a reversal is decided (plan) and its ledger batch under way;
    -- reversed: booked (and marked on the seat's receipt when seat_id is set);
    -- recorded: nothing to book; unmatched: a refund or chargeback of money
    -- camkit cannot trace, left for an operator (detail says why).
    outcome           TEXT NOT NULL CHECK (outcome IN ('pending', 'reversed', 'recorded', 'unmatched')),
    seat_id           TEXT NOT NULL DEFAULT '',
    plan              TEXT NOT NULL DEFAULT '',
    detail            TEXT NOT NULL DEFAULT '',
    occurred_at       TIMESTAMP,
    received_at       TIMESTAMP NOT NULL,
    done_at           TIMESTAMP,
    PRIMARY KEY (processor, event_id)
);
CREATE INDEX processor_events_seat ON processor_events (seat_id) WHERE seat_id <> '';
CREATE INDEX processor_events_related ON processor_events (processor, related_reference);

-- +goose Down
DROP TABLE processor_events;
