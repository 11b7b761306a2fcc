-- +goose Up
-- incentive_earnings.batch_id becomes NOT NULL DEFAULT 0 (0: in no batch),
-- so that reserving a line for a batch rewrites a fixed-size value in
-- place (on InnoDB a NULL turning into a value moves the whole record).
-- SQLite cannot change a column's nullability: add, copy, drop, rename.
DROP INDEX incentive_earnings_due;
ALTER TABLE incentive_earnings ADD COLUMN batch_no INTEGER NOT NULL DEFAULT 0;
UPDATE incentive_earnings SET batch_no = batch_id WHERE batch_id IS NOT NULL;
ALTER TABLE incentive_earnings DROP COLUMN batch_id;
ALTER TABLE incentive_earnings RENAME COLUMN batch_no TO batch_id;
CREATE INDEX incentive_earnings_due ON incentive_earnings(campaign_id, batch_id, staff_id);

-- +goose Down
DROP INDEX incentive_earnings_due;
ALTER TABLE incentive_earnings ADD COLUMN batch_no INTEGER;
UPDATE incentive_earnings SET batch_no = batch_id WHERE batch_id <> 0;
ALTER TABLE incentive_earnings DROP COLUMN batch_id;
ALTER TABLE incentive_earnings RENAME COLUMN batch_no TO batch_id;
CREATE INDEX incentive_earnings_due ON incentive_earnings(campaign_id, batch_id, staff_id);
