-- +goose Up
-- Staff incentives (see the sqlite migration for the commentary).
CREATE TABLE incentive_plans (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    campaign_id BIGINT NOT NULL,
    version BIGINT NOT NULL,
    status VARCHAR(16) NOT NULL,
    budget_fen BIGINT NOT NULL,
    body MEDIUMTEXT NOT NULL,
    proposed_by BIGINT NOT NULL,
    proposed_at BIGINT NOT NULL,
    decided_by BIGINT NULL,
    decided_at BIGINT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE KEY incentive_plans_version (campaign_id, version),
    KEY incentive_plans_effective (campaign_id, status, decided_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE incentive_budgets (
    campaign_id BIGINT NOT NULL PRIMARY KEY,
    budget_fen BIGINT NOT NULL,
    used_fen BIGINT NOT NULL DEFAULT 0,
    updated_at BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE incentive_credits (
    credit_id BIGINT NOT NULL PRIMARY KEY,
    conversion_id BIGINT NOT NULL,
    campaign_id BIGINT NOT NULL,
    staff_id BIGINT NOT NULL,
    conversion_type VARCHAR(64) NOT NULL,
    weight_micro BIGINT NOT NULL,
    credited_fen BIGINT NOT NULL,
    reversed_fen BIGINT NOT NULL DEFAULT 0,
    reversed_micro BIGINT NOT NULL DEFAULT 0,
    occurred_at BIGINT NOT NULL,
    unit_id BIGINT NOT NULL,
    team_id BIGINT NOT NULL,
    branch_id BIGINT NOT NULL,
    plan_id BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    KEY incentive_credits_team (campaign_id, team_id, occurred_at),
    KEY incentive_credits_branch (campaign_id, branch_id, occurred_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE incentive_progress (
    campaign_id BIGINT NOT NULL,
    staff_id BIGINT NOT NULL,
    rule_id VARCHAR(64) NOT NULL,
    period_key VARCHAR(32) NOT NULL,
    qty BIGINT NOT NULL,
    entitled BIGINT NOT NULL,
    done BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (campaign_id, staff_id, rule_id, period_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE incentive_cap_usage (
    campaign_id BIGINT NOT NULL,
    staff_id BIGINT NOT NULL,
    cap_period VARCHAR(16) NOT NULL,
    period_key VARCHAR(32) NOT NULL,
    currency VARCHAR(16) NOT NULL,
    used BIGINT NOT NULL,
    PRIMARY KEY (campaign_id, staff_id, cap_period, period_key, currency)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE incentive_pool_runs (
    campaign_id BIGINT NOT NULL,
    rule_id VARCHAR(64) NOT NULL,
    period_key VARCHAR(32) NOT NULL,
    plan_id BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (campaign_id, rule_id, period_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE incentive_earnings (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    campaign_id BIGINT NOT NULL,
    staff_id BIGINT NOT NULL,
    plan_id BIGINT NOT NULL,
    rule_id VARCHAR(64) NOT NULL,
    rule_kind VARCHAR(16) NOT NULL,
    currency VARCHAR(16) NOT NULL,
    entry VARCHAR(16) NOT NULL,
    ref_id BIGINT NULL,
    credit_id BIGINT NULL,
    conversion_id BIGINT NULL,
    period_key VARCHAR(32) NOT NULL DEFAULT '',
    unit_id BIGINT NULL,
    amount BIGINT NOT NULL,
    capped BIGINT NOT NULL DEFAULT 0,
    capped_reason VARCHAR(64) NOT NULL DEFAULT '',
    occurred_at BIGINT NOT NULL,
    hold_until BIGINT NOT NULL,
    batch_id BIGINT NULL,
    settled_at BIGINT NULL,
    created_at BIGINT NOT NULL,
    KEY incentive_earnings_staff (staff_id, campaign_id, id),
    KEY incentive_earnings_credit (credit_id),
    KEY incentive_earnings_settle (campaign_id, batch_id, hold_until),
    KEY incentive_earnings_batch (batch_id, staff_id),
    KEY incentive_earnings_ref (ref_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE settlement_batches (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    campaign_id BIGINT NOT NULL,
    period VARCHAR(16) NOT NULL,
    seq BIGINT NOT NULL,
    status VARCHAR(16) NOT NULL,
    cutoff_at BIGINT NOT NULL,
    proposed_by BIGINT NOT NULL,
    proposed_at BIGINT NOT NULL,
    decided_by BIGINT NULL,
    decided_at BIGINT NULL,
    cash_fen BIGINT NOT NULL DEFAULT 0,
    points BIGINT NOT NULL DEFAULT 0,
    staff_count BIGINT NOT NULL DEFAULT 0,
    UNIQUE KEY settlement_batches_period (campaign_id, period, seq)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE settlement_lines (
    batch_id BIGINT NOT NULL,
    staff_id BIGINT NOT NULL,
    employee_no VARCHAR(64) NOT NULL,
    name VARCHAR(200) NOT NULL,
    unit_path VARCHAR(1000) NOT NULL,
    cash_fen BIGINT NOT NULL,
    points BIGINT NOT NULL,
    clawback_fen BIGINT NOT NULL,
    clawback_points BIGINT NOT NULL,
    owed_fen BIGINT NOT NULL,
    owed_points BIGINT NOT NULL,
    line_count BIGINT NOT NULL,
    PRIMARY KEY (batch_id, staff_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- +goose Down
DROP TABLE settlement_lines;
DROP TABLE settlement_batches;
DROP TABLE incentive_earnings;
DROP TABLE incentive_pool_runs;
DROP TABLE incentive_cap_usage;
DROP TABLE incentive_progress;
DROP TABLE incentive_credits;
DROP TABLE incentive_budgets;
DROP TABLE incentive_plans;
