-- +goose Up
-- Negative attribution credit rows already applied (see the sqlite migration).
CREATE TABLE incentive_reversal_rows (
    source_id BIGINT NOT NULL PRIMARY KEY,
    conversion_id BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    KEY incentive_reversal_rows_conversion (conversion_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX incentive_credits_conversion ON incentive_credits(conversion_id);

-- +goose Down
DROP INDEX incentive_credits_conversion ON incentive_credits;
DROP TABLE incentive_reversal_rows;
