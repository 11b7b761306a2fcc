-- +goose Up
CREATE TABLE campaigns (
    id                BIGINT        NOT NULL AUTO_INCREMENT PRIMARY KEY,
    code              VARCHAR(64)   NOT NULL,
    name              VARCHAR(200)  NOT NULL,
    description       TEXT          NOT NULL,
    status            VARCHAR(16)   NOT NULL DEFAULT 'draft',
    start_at          BIGINT        NOT NULL,
    end_at            BIGINT        NOT NULL,
    timezone          VARCHAR(64)   NOT NULL DEFAULT 'Asia/Shanghai',
    landing_url       VARCHAR(2048) NOT NULL,
    lookback_days     INT           NOT NULL DEFAULT 30,
    attribution_model VARCHAR(32)   NOT NULL DEFAULT 'last_touch',
    half_life_days    INT           NOT NULL DEFAULT 7,
    protection_days   INT           NOT NULL DEFAULT 0,
    holding_days      INT           NOT NULL DEFAULT 30,
    freeze_at         BIGINT        NULL,
    ended_at          BIGINT        NULL,
    created_at        BIGINT        NOT NULL,
    updated_at        BIGINT        NOT NULL,
    UNIQUE KEY campaigns_code (code),
    KEY campaigns_status (status, start_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE campaign_units (
    campaign_id BIGINT NOT NULL,
    unit_id     BIGINT NOT NULL,
    PRIMARY KEY (campaign_id, unit_id),
    KEY campaign_units_unit (unit_id),
    CONSTRAINT campaign_units_campaign_fk FOREIGN KEY (campaign_id) REFERENCES campaigns(id),
    CONSTRAINT campaign_units_unit_fk FOREIGN KEY (unit_id) REFERENCES org_units(id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE campaign_conversion_types (
    campaign_id    BIGINT      NOT NULL,
    conv_type      VARCHAR(48) NOT NULL,
    min_amount_fen BIGINT      NOT NULL DEFAULT 0,
    PRIMARY KEY (campaign_id, conv_type),
    CONSTRAINT campaign_conversion_types_campaign_fk FOREIGN KEY (campaign_id) REFERENCES campaigns(id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE campaign_poster_templates (
    campaign_id  BIGINT      NOT NULL PRIMARY KEY,
    image        MEDIUMBLOB  NULL,
    image_type   VARCHAR(16) NOT NULL DEFAULT '',
    width        INT         NOT NULL,
    height       INT         NOT NULL,
    layout       TEXT        NOT NULL,
    version      VARCHAR(64) NOT NULL,
    updated_at   BIGINT      NOT NULL,
    CONSTRAINT campaign_poster_templates_campaign_fk FOREIGN KEY (campaign_id) REFERENCES campaigns(id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- +goose Down
DROP TABLE campaign_poster_templates;
DROP TABLE campaign_conversion_types;
DROP TABLE campaign_units;
DROP TABLE campaigns;
