-- +goose Up
CREATE TABLE customer_attributes (
    customer_id       TEXT    NOT NULL PRIMARY KEY,
    value_tier        TEXT    NOT NULL DEFAULT '',
    assets_band       TEXT    NOT NULL DEFAULT '',
    age_band          TEXT    NOT NULL DEFAULT '',
    preferred_channel TEXT    NOT NULL DEFAULT '',
    consent_call      INTEGER NOT NULL DEFAULT 0,
    consent_sms       INTEGER NOT NULL DEFAULT 0,
    consent_wecom     INTEGER NOT NULL DEFAULT 0,
    consent_branch    INTEGER NOT NULL DEFAULT 0,
    do_not_contact    INTEGER NOT NULL DEFAULT 0,
    home_branch       TEXT    NOT NULL DEFAULT '',
    timezone          TEXT    NOT NULL DEFAULT 'Asia/Shanghai',
    products          TEXT    NOT NULL DEFAULT '',
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
);

-- +goose Down
DROP TABLE customer_attributes;
