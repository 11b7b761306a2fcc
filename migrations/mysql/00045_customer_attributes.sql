-- +goose Up
CREATE TABLE customer_attributes (
    customer_id       VARCHAR(64)  NOT NULL PRIMARY KEY,
    value_tier        VARCHAR(16)  NOT NULL DEFAULT '',
    assets_band       VARCHAR(32)  NOT NULL DEFAULT '',
    age_band          VARCHAR(16)  NOT NULL DEFAULT '',
    preferred_channel VARCHAR(32)  NOT NULL DEFAULT '',
    consent_call      TINYINT      NOT NULL DEFAULT 0,
    consent_sms       TINYINT      NOT NULL DEFAULT 0,
    consent_wecom     TINYINT      NOT NULL DEFAULT 0,
    consent_branch    TINYINT      NOT NULL DEFAULT 0,
    do_not_contact    TINYINT      NOT NULL DEFAULT 0,
    home_branch       VARCHAR(64)  NOT NULL DEFAULT '',
    timezone          VARCHAR(64)  NOT NULL DEFAULT 'Asia/Shanghai',
    products          VARCHAR(1024) NOT NULL DEFAULT '',
    created_at        BIGINT       NOT NULL,
    updated_at        BIGINT       NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- +goose Down
DROP TABLE customer_attributes;
