-- +goose Up
-- Leaderboards sum a campaign's credits per level key over a day range:
-- a covering index answers them from the index alone (no row lookups).
CREATE INDEX credits_board ON credits(campaign_id, day, staff_id, team_id, subbranch_id, branch_id, region_id,
    weight_micro, credited_fen, occurred_at, created_at);

-- +goose Down
DROP INDEX credits_board;
