-- +goose Up
-- Settlement reserves and nets due earnings a chunk of staff at a time:
-- one index on (campaign, batch, staff) serves the chunk's reservation
-- (batch_id IS NULL, staff range), its netting (batch_id = ?, staff range),
-- approval and rejection, and replaces the two indexes that both carried
-- batch_id (each reservation moved two index entries per line).
DROP INDEX incentive_earnings_settle;
DROP INDEX incentive_earnings_batch;
CREATE INDEX incentive_earnings_due ON incentive_earnings(campaign_id, batch_id, staff_id);

-- +goose Down
DROP INDEX incentive_earnings_due;
CREATE INDEX incentive_earnings_settle ON incentive_earnings(campaign_id, batch_id, hold_until);
CREATE INDEX incentive_earnings_batch ON incentive_earnings(batch_id, staff_id);
