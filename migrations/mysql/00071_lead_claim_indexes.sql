-- +goose Up
-- Claims read never-claimed offers in hand-out order straight from an
-- index, and expired leases by their own range, so that neither skips
-- over the leads currently leased.
DROP INDEX leads_claim ON leads;
CREATE INDEX leads_claim_order ON leads(channel, status, priority DESC, offered_at, id);
CREATE INDEX leads_lease ON leads(channel, status, lease_until);

-- +goose Down
DROP INDEX leads_lease ON leads;
DROP INDEX leads_claim_order ON leads;
CREATE INDEX leads_claim ON leads(channel, status, priority, offered_at);
