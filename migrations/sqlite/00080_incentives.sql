-- +goose Up
-- Staff incentives: plan versions (maker-checker), the credits they were
-- computed from, per-rule progress (tiers, stages), cap usage, the campaign
-- budget, the earnings ledger and settlement batches.
CREATE TABLE incentive_plans (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    campaign_id INTEGER NOT NULL,
    version     INTEGER NOT NULL,
    status      TEXT    NOT NULL,
    budget_fen  INTEGER NOT NULL,
    body        TEXT    NOT NULL,
    proposed_by INTEGER NOT NULL,
    proposed_at INTEGER NOT NULL,
    decided_by  INTEGER,
    decided_at  INTEGER,
    created_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX incentive_plans_version ON incentive_plans(campaign_id, version);
CREATE INDEX incentive_plans_effective ON incentive_plans(campaign_id, status, decided_at);

CREATE TABLE incentive_budgets (
    campaign_id INTEGER PRIMARY KEY,
    budget_fen  INTEGER NOT NULL,
    used_fen    INTEGER NOT NULL DEFAULT 0,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE incentive_credits (
    credit_id       INTEGER PRIMARY KEY,
    conversion_id   INTEGER NOT NULL,
    campaign_id     INTEGER NOT NULL,
    staff_id        INTEGER NOT NULL,
    conversion_type TEXT    NOT NULL,
    weight_micro    INTEGER NOT NULL,
    credited_fen    INTEGER NOT NULL,
    reversed_fen    INTEGER NOT NULL DEFAULT 0,
    reversed_micro  INTEGER NOT NULL DEFAULT 0,
    occurred_at     INTEGER NOT NULL,
    unit_id         INTEGER NOT NULL,
    team_id         INTEGER NOT NULL,
    branch_id       INTEGER NOT NULL,
    plan_id         INTEGER NOT NULL,
    created_at      INTEGER NOT NULL
);
CREATE INDEX incentive_credits_team ON incentive_credits(campaign_id, team_id, occurred_at);
CREATE INDEX incentive_credits_branch ON incentive_credits(campaign_id, branch_id, occurred_at);

CREATE TABLE incentive_progress (
    campaign_id INTEGER NOT NULL,
    staff_id    INTEGER NOT NULL,
    rule_id     TEXT    NOT NULL,
    period_key  TEXT    NOT NULL,
    qty         INTEGER NOT NULL,
    entitled    INTEGER NOT NULL,
    done        INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (campaign_id, staff_id, rule_id, period_key)
);

CREATE TABLE incentive_cap_usage (
    campaign_id INTEGER NOT NULL,
    staff_id    INTEGER NOT NULL,
    cap_period  TEXT    NOT NULL,
    period_key  TEXT    NOT NULL,
    currency    TEXT    NOT NULL,
    used        INTEGER NOT NULL,
    PRIMARY KEY (campaign_id, staff_id, cap_period, period_key, currency)
);

CREATE TABLE incentive_pool_runs (
    campaign_id INTEGER NOT NULL,
    rule_id     TEXT    NOT NULL,
    period_key  TEXT    NOT NULL,
    plan_id     INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (campaign_id, rule_id, period_key)
);

CREATE TABLE incentive_earnings (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    campaign_id     INTEGER NOT NULL,
    staff_id        INTEGER NOT NULL,
    plan_id         INTEGER NOT NULL,
    rule_id         TEXT    NOT NULL,
    rule_kind       TEXT    NOT NULL,
    currency        TEXT    NOT NULL,
    entry           TEXT    NOT NULL,
    ref_id          INTEGER,
    credit_id       INTEGER,
    conversion_id   INTEGER,
    period_key      TEXT    NOT NULL DEFAULT '',
    unit_id         INTEGER,
    amount          INTEGER NOT NULL,
    capped          INTEGER NOT NULL DEFAULT 0,
    capped_reason   TEXT    NOT NULL DEFAULT '',
    occurred_at     INTEGER NOT NULL,
    hold_until      INTEGER NOT NULL,
    batch_id        INTEGER,
    settled_at      INTEGER,
    created_at      INTEGER NOT NULL
);
CREATE INDEX incentive_earnings_staff ON incentive_earnings(staff_id, campaign_id, id);
CREATE INDEX incentive_earnings_credit ON incentive_earnings(credit_id);
CREATE INDEX incentive_earnings_settle ON incentive_earnings(campaign_id, batch_id, hold_until);
CREATE INDEX incentive_earnings_batch ON incentive_earnings(batch_id, staff_id);
CREATE INDEX incentive_earnings_ref ON incentive_earnings(ref_id);

CREATE TABLE settlement_batches (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    campaign_id INTEGER NOT NULL,
    period      TEXT    NOT NULL,
    seq         INTEGER NOT NULL,
    status      TEXT    NOT NULL,
    cutoff_at   INTEGER NOT NULL,
    proposed_by INTEGER NOT NULL,
    proposed_at INTEGER NOT NULL,
    decided_by  INTEGER,
    decided_at  INTEGER,
    cash_fen    INTEGER NOT NULL DEFAULT 0,
    points      INTEGER NOT NULL DEFAULT 0,
    staff_count INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX settlement_batches_period ON settlement_batches(campaign_id, period, seq);

CREATE TABLE settlement_lines (
    batch_id      INTEGER NOT NULL,
    staff_id      INTEGER NOT NULL,
    employee_no   TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    unit_path     TEXT    NOT NULL,
    cash_fen      INTEGER NOT NULL,
    points        INTEGER NOT NULL,
    clawback_fen  INTEGER NOT NULL,
    clawback_points INTEGER NOT NULL,
    owed_fen      INTEGER NOT NULL,
    owed_points   INTEGER NOT NULL,
    line_count    INTEGER NOT NULL,
    PRIMARY KEY (batch_id, staff_id)
);

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
