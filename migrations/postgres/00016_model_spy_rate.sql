-- +goose Up
-- A model's rate per minute for a spy seat in her private shows (a
-- receive-only seat someone else opens), in minor units of her rate currency;
-- NULL: she refuses spies. A spy seat locks its own copy when it opens.
ALTER TABLE model_profiles ADD COLUMN spy_rate_amount BIGINT CHECK (spy_rate_amount > 0);

-- +goose Down
ALTER TABLE model_profiles DROP COLUMN spy_rate_amount;
