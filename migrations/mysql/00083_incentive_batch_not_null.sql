-- +goose Up
-- incentive_earnings.batch_id becomes NOT NULL DEFAULT 0 (0: in no batch),
-- so that reserving a line rewrites a fixed-size value in place.
UPDATE incentive_earnings SET batch_id = 0 WHERE batch_id IS NULL;
ALTER TABLE incentive_earnings MODIFY batch_id BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE incentive_earnings MODIFY batch_id BIGINT NULL;
UPDATE incentive_earnings SET batch_id = NULL WHERE batch_id = 0;
