-- +goose Up
-- Nothing reads clicks by time alone; the index only cost a page write per
-- commit under load.
DROP INDEX referral_clicks_at;

-- +goose Down
CREATE INDEX referral_clicks_at ON referral_clicks(at);
