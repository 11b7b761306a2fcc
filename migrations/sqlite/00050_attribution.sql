-- +goose Up
-- Conversions reported by upstream systems, idempotent on (source,
-- external_id). identifier_id is the customer identifier the conversion
-- was reported for; its cluster is the customer.
CREATE TABLE conversions (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    source          TEXT    NOT NULL,
    external_id     TEXT    NOT NULL,
    payload_hash    TEXT    NOT NULL,
    type            TEXT    NOT NULL,
    identifier_id   INTEGER NOT NULL,
    customer_no     TEXT    NOT NULL DEFAULT '',
    amount_fen      INTEGER NOT NULL,
    reversed_fen    INTEGER NOT NULL DEFAULT 0,
    product_code    TEXT    NOT NULL DEFAULT '',
    channel         TEXT    NOT NULL,
    sub_channel     TEXT    NOT NULL DEFAULT '',
    invitation_code TEXT    NOT NULL DEFAULT '',
    referral_token  TEXT    NOT NULL DEFAULT '',
    occurred_at     INTEGER NOT NULL,
    created_at      INTEGER NOT NULL
);
CREATE UNIQUE INDEX conversions_key ON conversions(source, external_id);
CREATE INDEX conversions_identifier ON conversions(identifier_id, occurred_at);
CREATE INDEX conversions_at ON conversions(occurred_at);

-- Remote and offline contacts (call centre, SMS/WeCom, branch systems,
-- lead follow-ups), idempotent on (source, external_id).
CREATE TABLE touches (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    source        TEXT    NOT NULL,
    external_id   TEXT    NOT NULL,
    payload_hash  TEXT    NOT NULL,
    identifier_id INTEGER NOT NULL,
    staff_id      INTEGER NOT NULL,
    channel       TEXT    NOT NULL,
    kind          TEXT    NOT NULL,
    campaign_id   INTEGER NOT NULL DEFAULT 0,
    occurred_at   INTEGER NOT NULL,
    created_at    INTEGER NOT NULL
);
CREATE UNIQUE INDEX touches_key ON touches(source, external_id);
CREATE INDEX touches_identifier ON touches(identifier_id, occurred_at);

-- One decision per conversion and campaign, with its explanation.
CREATE TABLE attributions (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    conversion_id    INTEGER NOT NULL,
    campaign_id      INTEGER NOT NULL,
    rule             TEXT    NOT NULL,
    reason           TEXT    NOT NULL DEFAULT '',
    protection_start INTEGER NOT NULL DEFAULT 0,
    protector_id     INTEGER NOT NULL DEFAULT 0,
    occurred_at      INTEGER NOT NULL,
    explanation      TEXT    NOT NULL,
    version          INTEGER NOT NULL DEFAULT 1,
    updated_at       INTEGER NOT NULL
);
CREATE UNIQUE INDEX attributions_key ON attributions(conversion_id, campaign_id);
CREATE INDEX attributions_campaign ON attributions(campaign_id, occurred_at);

-- Credits: one attribution row per staff member, plus negative rows per
-- reversal; the org chain is the one at the conversion time.
CREATE TABLE credits (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    conversion_id INTEGER NOT NULL,
    campaign_id   INTEGER NOT NULL,
    staff_id      INTEGER NOT NULL,
    kind          TEXT    NOT NULL,
    reversal_id   INTEGER NOT NULL DEFAULT 0,
    weight_micro  INTEGER NOT NULL,
    credited_fen  INTEGER NOT NULL,
    unit_id       INTEGER NOT NULL,
    unit_path     TEXT    NOT NULL,
    team_id       INTEGER NOT NULL DEFAULT 0,
    subbranch_id  INTEGER NOT NULL DEFAULT 0,
    branch_id     INTEGER NOT NULL DEFAULT 0,
    region_id     INTEGER NOT NULL DEFAULT 0,
    day           TEXT    NOT NULL,
    occurred_at   INTEGER NOT NULL,
    created_at    INTEGER NOT NULL
);
CREATE INDEX credits_conversion ON credits(conversion_id, campaign_id);
CREATE INDEX credits_campaign_staff ON credits(campaign_id, staff_id);
CREATE INDEX credits_staff ON credits(staff_id, occurred_at);
CREATE INDEX credits_path ON credits(unit_path);

-- Leaderboard rollups as append-only deltas (summed on read), so that
-- concurrent conversions of one branch never update one hot row.
CREATE TABLE rollup_deltas (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    campaign_id  INTEGER NOT NULL,
    level        TEXT    NOT NULL,
    key_id       INTEGER NOT NULL,
    day          TEXT    NOT NULL,
    weight_micro INTEGER NOT NULL,
    credited_fen INTEGER NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE INDEX rollup_deltas_key ON rollup_deltas(campaign_id, level, key_id, day);

CREATE TABLE conversion_reversals (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    conversion_id INTEGER NOT NULL,
    external_id   TEXT    NOT NULL,
    payload_hash  TEXT    NOT NULL,
    amount_fen    INTEGER NOT NULL,
    reason        TEXT    NOT NULL DEFAULT '',
    occurred_at   INTEGER NOT NULL,
    created_at    INTEGER NOT NULL
);
CREATE UNIQUE INDEX conversion_reversals_key ON conversion_reversals(conversion_id, external_id);

-- Changes that late data would have made after a campaign's results were
-- frozen: recorded, not applied.
CREATE TABLE attribution_adjustments (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    conversion_id INTEGER NOT NULL,
    campaign_id   INTEGER NOT NULL,
    staff_id      INTEGER NOT NULL,
    weight_micro  INTEGER NOT NULL,
    credited_fen  INTEGER NOT NULL,
    reason        TEXT    NOT NULL,
    created_at    INTEGER NOT NULL
);
CREATE INDEX attribution_adjustments_campaign ON attribution_adjustments(campaign_id, conversion_id);

-- Proposals to move a conversion's credit from one staff member to another.
CREATE TABLE attribution_disputes (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    conversion_id INTEGER NOT NULL,
    campaign_id   INTEGER NOT NULL,
    from_staff_id INTEGER NOT NULL,
    to_staff_id   INTEGER NOT NULL,
    reason        TEXT    NOT NULL,
    status        TEXT    NOT NULL,
    proposed_by   INTEGER NOT NULL,
    decided_by    INTEGER NOT NULL DEFAULT 0,
    decision_note TEXT    NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL,
    decided_at    INTEGER
);
CREATE INDEX attribution_disputes_conversion ON attribution_disputes(conversion_id, campaign_id);
CREATE INDEX attribution_disputes_status ON attribution_disputes(status, id);

-- +goose Down
DROP TABLE attribution_disputes;
DROP TABLE attribution_adjustments;
DROP TABLE conversion_reversals;
DROP TABLE rollup_deltas;
DROP TABLE credits;
DROP TABLE attributions;
DROP TABLE touches;
DROP TABLE conversions;
