-- +goose Up
CREATE TABLE perk_programmes (
    id          BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name        VARCHAR(200) NOT NULL,
    product     VARCHAR(64)  NOT NULL,
    campaign_id BIGINT       NULL,
    created_by  VARCHAR(100) NOT NULL,
    created_at  BIGINT       NOT NULL,
    updated_at  BIGINT       NOT NULL,
    KEY perk_programmes_product (product)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE perk_programme_versions (
    id             BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    programme_id   BIGINT       NOT NULL,
    version        INT          NOT NULL,
    config         MEDIUMTEXT   NOT NULL,
    note           VARCHAR(500) NOT NULL DEFAULT '',
    status         VARCHAR(16)  NOT NULL,
    effective_from BIGINT       NOT NULL,
    effective_at   BIGINT       NULL,
    proposed_by    VARCHAR(100) NOT NULL,
    proposed_at    BIGINT       NOT NULL,
    approved_by    VARCHAR(100) NULL,
    approved_at    BIGINT       NULL,
    UNIQUE KEY perk_programme_versions_version (programme_id, version),
    CONSTRAINT perk_programme_versions_fk FOREIGN KEY (programme_id) REFERENCES perk_programmes(id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE perk_cardholders (
    customer_id VARCHAR(64) NOT NULL PRIMARY KEY,
    created_at  BIGINT      NOT NULL,
    seq         BIGINT      NOT NULL DEFAULT 0
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE perk_card_events (
    id           BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    event_id     VARCHAR(128) NOT NULL,
    kind         VARCHAR(32)  NOT NULL,
    customer_id  VARCHAR(64)  NOT NULL,
    card_id      VARCHAR(64)  NOT NULL,
    product      VARCHAR(64)  NOT NULL DEFAULT '',
    occurred_at  BIGINT       NOT NULL,
    payload      TEXT         NOT NULL,
    payload_hash CHAR(64)     NOT NULL,
    outcome      TEXT         NOT NULL,
    received_by  VARCHAR(100) NOT NULL,
    received_at  BIGINT       NOT NULL,
    UNIQUE KEY perk_card_events_event (event_id),
    KEY perk_card_events_customer (customer_id, occurred_at),
    KEY perk_card_events_product (product, kind, customer_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE perk_claims (
    id           BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    programme_id BIGINT       NOT NULL,
    customer_id  VARCHAR(64)  NOT NULL,
    grant_key    VARCHAR(128) NOT NULL,
    kind         VARCHAR(16)  NOT NULL,
    claimed_at   BIGINT       NOT NULL,
    terms        TEXT         NOT NULL,
    claimed_by   VARCHAR(100) NOT NULL,
    created_at   BIGINT       NOT NULL,
    UNIQUE KEY perk_claims_grant (programme_id, customer_id, grant_key),
    CONSTRAINT perk_claims_programme_fk FOREIGN KEY (programme_id) REFERENCES perk_programmes(id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- +goose Down
DROP TABLE perk_claims;
DROP TABLE perk_card_events;
DROP TABLE perk_cardholders;
DROP TABLE perk_programme_versions;
DROP TABLE perk_programmes;
