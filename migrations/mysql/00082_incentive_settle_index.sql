-- +goose Up
-- One index on (campaign, batch, staff) for settlement by staff chunks,
-- replacing the two that both carried batch_id (see the sqlite migration).
DROP INDEX incentive_earnings_settle ON incentive_earnings;
DROP INDEX incentive_earnings_batch ON incentive_earnings;
CREATE INDEX incentive_earnings_due ON incentive_earnings(campaign_id, batch_id, staff_id);

-- +goose Down
DROP INDEX incentive_earnings_due ON incentive_earnings;
CREATE INDEX incentive_earnings_settle ON incentive_earnings(campaign_id, batch_id, hold_until);
CREATE INDEX incentive_earnings_batch ON incentive_earnings(batch_id, staff_id);
