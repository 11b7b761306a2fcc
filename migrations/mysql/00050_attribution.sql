-- +goose Up
-- Conversions reported by upstream systems, idempotent on (source,
-- external_id). identifier_id is the customer identifier the conversion
-- was reported for; its cluster is the customer.
CREATE TABLE conversions (
    id              BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    source          VARCHAR(64)  NOT NULL,
    external_id     VARCHAR(128) NOT NULL,
    payload_hash    CHAR(64)     NOT NULL,
    type            VARCHAR(64)  NOT NULL,
    identifier_id   BIGINT       NOT NULL,
    customer_no     VARCHAR(128) NOT NULL DEFAULT '',
    amount_fen      BIGINT       NOT NULL,
    reversed_fen    BIGINT       NOT NULL DEFAULT 0,
    product_code    VARCHAR(64)  NOT NULL DEFAULT '',
    channel         VARCHAR(16)  NOT NULL,
    sub_channel     VARCHAR(64)  NOT NULL DEFAULT '',
    invitation_code VARCHAR(32)  NOT NULL DEFAULT '',
    referral_token  VARCHAR(255) NOT NULL DEFAULT '',
    occurred_at     BIGINT       NOT NULL,
    created_at      BIGINT       NOT NULL,
    UNIQUE KEY conversions_key (source, external_id),
    KEY conversions_identifier (identifier_id, occurred_at),
    KEY conversions_at (occurred_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Remote and offline contacts (call centre, SMS/WeCom, branch systems,
-- lead follow-ups), idempotent on (source, external_id).
CREATE TABLE touches (
    id            BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    source        VARCHAR(64)  NOT NULL,
    external_id   VARCHAR(128) NOT NULL,
    payload_hash  CHAR(64)     NOT NULL,
    identifier_id BIGINT       NOT NULL,
    staff_id      BIGINT       NOT NULL,
    channel       VARCHAR(16)  NOT NULL,
    kind          VARCHAR(32)  NOT NULL,
    campaign_id   BIGINT       NOT NULL DEFAULT 0,
    occurred_at   BIGINT       NOT NULL,
    created_at    BIGINT       NOT NULL,
    UNIQUE KEY touches_key (source, external_id),
    KEY touches_identifier (identifier_id, occurred_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- One decision per conversion and campaign, with its explanation.
CREATE TABLE attributions (
    id               BIGINT      NOT NULL AUTO_INCREMENT PRIMARY KEY,
    conversion_id    BIGINT      NOT NULL,
    campaign_id      BIGINT      NOT NULL,
    rule             VARCHAR(16) NOT NULL,
    reason           VARCHAR(64) NOT NULL DEFAULT '',
    protection_start INT         NOT NULL DEFAULT 0,
    protector_id     BIGINT      NOT NULL DEFAULT 0,
    occurred_at      BIGINT      NOT NULL,
    explanation      MEDIUMTEXT  NOT NULL,
    version          INT         NOT NULL DEFAULT 1,
    updated_at       BIGINT      NOT NULL,
    UNIQUE KEY attributions_key (conversion_id, campaign_id),
    KEY attributions_campaign (campaign_id, occurred_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Credits: one attribution row per staff member, plus negative rows per
-- reversal; the org chain is the one at the conversion time.
CREATE TABLE credits (
    id            BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    conversion_id BIGINT       NOT NULL,
    campaign_id   BIGINT       NOT NULL,
    staff_id      BIGINT       NOT NULL,
    kind          VARCHAR(16)  NOT NULL,
    reversal_id   BIGINT       NOT NULL DEFAULT 0,
    weight_micro  BIGINT       NOT NULL,
    credited_fen  BIGINT       NOT NULL,
    unit_id       BIGINT       NOT NULL,
    unit_path     VARCHAR(512) NOT NULL,
    team_id       BIGINT       NOT NULL DEFAULT 0,
    subbranch_id  BIGINT       NOT NULL DEFAULT 0,
    branch_id     BIGINT       NOT NULL DEFAULT 0,
    region_id     BIGINT       NOT NULL DEFAULT 0,
    day           CHAR(10)     NOT NULL,
    occurred_at   BIGINT       NOT NULL,
    created_at    BIGINT       NOT NULL,
    KEY credits_conversion (conversion_id, campaign_id),
    KEY credits_campaign_staff (campaign_id, staff_id),
    KEY credits_staff (staff_id, occurred_at),
    KEY credits_path (unit_path)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Leaderboard rollups as append-only deltas (summed on read), so that
-- concurrent conversions of one branch never update one hot row.
CREATE TABLE rollup_deltas (
    id           BIGINT      NOT NULL AUTO_INCREMENT PRIMARY KEY,
    campaign_id  BIGINT      NOT NULL,
    level        VARCHAR(16) NOT NULL,
    key_id       BIGINT      NOT NULL,
    day          CHAR(10)    NOT NULL,
    weight_micro BIGINT      NOT NULL,
    credited_fen BIGINT      NOT NULL,
    created_at   BIGINT      NOT NULL,
    KEY rollup_deltas_key (campaign_id, level, key_id, day)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE conversion_reversals (
    id            BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    conversion_id BIGINT       NOT NULL,
    external_id   VARCHAR(128) NOT NULL,
    payload_hash  CHAR(64)     NOT NULL,
    amount_fen    BIGINT       NOT NULL,
    reason        VARCHAR(255) NOT NULL DEFAULT '',
    occurred_at   BIGINT       NOT NULL,
    created_at    BIGINT       NOT NULL,
    UNIQUE KEY conversion_reversals_key (conversion_id, external_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Changes that late data would have made after a campaign's results were
-- frozen: recorded, not applied.
CREATE TABLE attribution_adjustments (
    id            BIGINT      NOT NULL AUTO_INCREMENT PRIMARY KEY,
    conversion_id BIGINT      NOT NULL,
    campaign_id   BIGINT      NOT NULL,
    staff_id      BIGINT      NOT NULL,
    weight_micro  BIGINT      NOT NULL,
    credited_fen  BIGINT      NOT NULL,
    reason        VARCHAR(64) NOT NULL,
    created_at    BIGINT      NOT NULL,
    KEY attribution_adjustments_campaign (campaign_id, conversion_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Proposals to move a conversion's credit from one staff member to another.
CREATE TABLE attribution_disputes (
    id            BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    conversion_id BIGINT       NOT NULL,
    campaign_id   BIGINT       NOT NULL,
    from_staff_id BIGINT       NOT NULL,
    to_staff_id   BIGINT       NOT NULL,
    reason        VARCHAR(500) NOT NULL,
    status        VARCHAR(16)  NOT NULL,
    proposed_by   BIGINT       NOT NULL,
    decided_by    BIGINT       NOT NULL DEFAULT 0,
    decision_note VARCHAR(500) NOT NULL DEFAULT '',
    created_at    BIGINT       NOT NULL,
    decided_at    BIGINT       NULL,
    KEY attribution_disputes_conversion (conversion_id, campaign_id),
    KEY attribution_disputes_status (status, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- +goose Down
DROP TABLE attribution_disputes;
DROP TABLE attribution_adjustments;
DROP TABLE conversion_reversals;
DROP TABLE rollup_deltas;
DROP TABLE credits;
DROP TABLE attributions;
DROP TABLE touches;
DROP TABLE conversions;
