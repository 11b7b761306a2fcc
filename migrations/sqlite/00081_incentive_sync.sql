-- +goose Up
-- Negative attribution credit rows (reversals, adjustments) already turned
-- into incentive cancels or clawbacks, so that syncing a conversion again
-- applies each of them once.
CREATE TABLE incentive_reversal_rows (
    source_id     INTEGER PRIMARY KEY,
    conversion_id INTEGER NOT NULL,
    created_at    INTEGER NOT NULL
);
CREATE INDEX incentive_reversal_rows_conversion ON incentive_reversal_rows(conversion_id);
CREATE INDEX incentive_credits_conversion ON incentive_credits(conversion_id);

-- +goose Down
DROP INDEX incentive_credits_conversion;
DROP TABLE incentive_reversal_rows;
