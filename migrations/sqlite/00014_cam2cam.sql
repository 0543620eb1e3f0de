-- +goose Up
-- A model's cam2cam offer in private shows: NULL, she does not offer it; a
-- per-minute surcharge in minor units of her rate currency otherwise (0 is
-- free). A seat granted cam2cam locks her rate plus this, once, at the seat.
ALTER TABLE model_profiles ADD COLUMN cam2cam_surcharge BIGINT;

-- +goose Down
ALTER TABLE model_profiles DROP COLUMN cam2cam_surcharge;
