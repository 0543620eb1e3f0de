-- +goose Up
-- A model's per-minute rate for group shows, in the currency of her private
-- rate (rate_currency, the site currency); 0 until she sets one, when a
-- group show she opens without a rate takes her private rate. A seat locks
-- its own copy when it opens, so a change never reaches an open seat.
ALTER TABLE model_profiles ADD COLUMN group_rate_amount BIGINT NOT NULL DEFAULT 0 CHECK (group_rate_amount >= 0);

-- +goose Down
ALTER TABLE model_profiles DROP COLUMN group_rate_amount;
