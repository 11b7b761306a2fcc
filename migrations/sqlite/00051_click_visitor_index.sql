-- +goose Up
-- Attribution finds a customer's clicks by visitor id (referral's own
-- visitor index leads with the code).
CREATE INDEX referral_clicks_visitor_at ON referral_clicks(visitor_id, at);

-- +goose Down
DROP INDEX referral_clicks_visitor_at;
