-- +goose Up
CREATE TABLE perk_programmes (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT    NOT NULL,
    product     TEXT    NOT NULL,
    campaign_id INTEGER,
    created_by  TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX perk_programmes_product ON perk_programmes(product);

CREATE TABLE perk_programme_versions (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    programme_id   INTEGER NOT NULL REFERENCES perk_programmes(id),
    version        INTEGER NOT NULL,
    config         TEXT    NOT NULL,
    note           TEXT    NOT NULL DEFAULT '',
    status         TEXT    NOT NULL,
    effective_from INTEGER NOT NULL,
    effective_at   INTEGER,
    proposed_by    TEXT    NOT NULL,
    proposed_at    INTEGER NOT NULL,
    approved_by    TEXT,
    approved_at    INTEGER
);
CREATE UNIQUE INDEX perk_programme_versions_version ON perk_programme_versions(programme_id, version);

CREATE TABLE perk_cardholders (
    customer_id TEXT    NOT NULL PRIMARY KEY,
    created_at  INTEGER NOT NULL,
    seq         INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE perk_card_events (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id     TEXT    NOT NULL,
    kind         TEXT    NOT NULL,
    customer_id  TEXT    NOT NULL,
    card_id      TEXT    NOT NULL,
    product      TEXT    NOT NULL DEFAULT '',
    occurred_at  INTEGER NOT NULL,
    payload      TEXT    NOT NULL,
    payload_hash TEXT    NOT NULL,
    outcome      TEXT    NOT NULL DEFAULT '',
    received_by  TEXT    NOT NULL,
    received_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX perk_card_events_event ON perk_card_events(event_id);
CREATE INDEX perk_card_events_customer ON perk_card_events(customer_id, occurred_at);
CREATE INDEX perk_card_events_product ON perk_card_events(product, kind, customer_id);

CREATE TABLE perk_claims (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    programme_id INTEGER NOT NULL REFERENCES perk_programmes(id),
    customer_id  TEXT    NOT NULL,
    grant_key    TEXT    NOT NULL,
    kind         TEXT    NOT NULL,
    claimed_at   INTEGER NOT NULL,
    terms        TEXT    NOT NULL,
    claimed_by   TEXT    NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE UNIQUE INDEX perk_claims_grant ON perk_claims(programme_id, customer_id, grant_key);

-- +goose Down
DROP TABLE perk_claims;
DROP TABLE perk_card_events;
DROP TABLE perk_cardholders;
DROP TABLE perk_programme_versions;
DROP TABLE perk_programmes;
