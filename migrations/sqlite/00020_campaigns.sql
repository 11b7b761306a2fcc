-- +goose Up
CREATE TABLE campaigns (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    code              TEXT    NOT NULL,
    name              TEXT    NOT NULL,
    description       TEXT    NOT NULL DEFAULT '',
    status            TEXT    NOT NULL DEFAULT 'draft',
    start_at          INTEGER NOT NULL,
    end_at            INTEGER NOT NULL,
    timezone          TEXT    NOT NULL DEFAULT 'Asia/Shanghai',
    landing_url       TEXT    NOT NULL,
    lookback_days     INTEGER NOT NULL DEFAULT 30,
    attribution_model TEXT    NOT NULL DEFAULT 'last_touch',
    half_life_days    INTEGER NOT NULL DEFAULT 7,
    protection_days   INTEGER NOT NULL DEFAULT 0,
    holding_days      INTEGER NOT NULL DEFAULT 30,
    freeze_at         INTEGER,
    ended_at          INTEGER,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
);
CREATE UNIQUE INDEX campaigns_code ON campaigns(code);
CREATE INDEX campaigns_status ON campaigns(status, start_at);

CREATE TABLE campaign_units (
    campaign_id INTEGER NOT NULL REFERENCES campaigns(id),
    unit_id     INTEGER NOT NULL REFERENCES org_units(id),
    PRIMARY KEY (campaign_id, unit_id)
);
CREATE INDEX campaign_units_unit ON campaign_units(unit_id);

CREATE TABLE campaign_conversion_types (
    campaign_id    INTEGER NOT NULL REFERENCES campaigns(id),
    conv_type      TEXT    NOT NULL,
    min_amount_fen INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (campaign_id, conv_type)
);

CREATE TABLE campaign_poster_templates (
    campaign_id  INTEGER PRIMARY KEY REFERENCES campaigns(id),
    image        BLOB,
    image_type   TEXT    NOT NULL DEFAULT '',
    width        INTEGER NOT NULL,
    height       INTEGER NOT NULL,
    layout       TEXT    NOT NULL,
    version      TEXT    NOT NULL,
    updated_at   INTEGER NOT NULL
);

-- +goose Down
DROP TABLE campaign_poster_templates;
DROP TABLE campaign_conversion_types;
DROP TABLE campaign_units;
DROP TABLE campaigns;
