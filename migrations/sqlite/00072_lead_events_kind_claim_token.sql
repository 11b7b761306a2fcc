-- +goose Up
-- Count windows and abandonment checks read one customer's events of one
-- kind in a time range: index them in that order, so the read does not
-- grow with the customer's other events (the old index led with product,
-- which those reads seldom name). Claims mark the leads they win with a
-- token of their own, so that one conditional UPDATE can claim several
-- leads and the winner can read back exactly the rows it changed.
DROP INDEX lead_events_customer;
CREATE INDEX lead_events_customer_kind ON lead_events(customer_id, kind, occurred_at, product);
ALTER TABLE leads ADD COLUMN lease_token TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE leads DROP COLUMN lease_token;
DROP INDEX lead_events_customer_kind;
CREATE INDEX lead_events_customer ON lead_events(customer_id, product, occurred_at);
