-- +goose Up
CREATE TABLE lead_settings (
    id                   INTEGER PRIMARY KEY,
    week_cap             INTEGER NOT NULL,
    month_cap            INTEGER NOT NULL,
    quiet_start_min      INTEGER NOT NULL,
    quiet_end_min        INTEGER NOT NULL,
    lease_seconds        INTEGER NOT NULL,
    retention_hours      INTEGER NOT NULL,
    default_pool_unit_id INTEGER,
    default_capacity     INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
);
INSERT INTO lead_settings (id, week_cap, month_cap, quiet_start_min, quiet_end_min, lease_seconds, retention_hours, default_pool_unit_id, default_capacity, updated_at)
VALUES (1, 2, 4, 1260, 540, 300, 168, NULL, 30, 0);

CREATE TABLE lead_channel_units (
    channel    TEXT    NOT NULL PRIMARY KEY,
    unit_id    INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE lead_staff_capacity (
    staff_id   INTEGER NOT NULL PRIMARY KEY,
    capacity   INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE lead_calendars (
    unit_id    INTEGER NOT NULL PRIMARY KEY,
    timezone   TEXT    NOT NULL,
    workdays   TEXT    NOT NULL,
    start_min  INTEGER NOT NULL,
    end_min    INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE lead_calendar_days (
    unit_id INTEGER NOT NULL,
    day     TEXT    NOT NULL,
    kind    TEXT    NOT NULL,
    PRIMARY KEY (unit_id, day)
);

CREATE TABLE lead_rules (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    code       TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    status     TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    definition TEXT    NOT NULL,
    created_by TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX lead_rules_code ON lead_rules(code);

CREATE TABLE lead_rule_versions (
    rule_id    INTEGER NOT NULL,
    version    INTEGER NOT NULL,
    definition TEXT    NOT NULL,
    created_by TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (rule_id, version)
);

CREATE TABLE lead_events (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id      TEXT    NOT NULL,
    customer_id   TEXT    NOT NULL DEFAULT '',
    visitor_id    TEXT    NOT NULL DEFAULT '',
    kind          TEXT    NOT NULL,
    product       TEXT    NOT NULL DEFAULT '',
    occurred_at   INTEGER NOT NULL,
    dwell_seconds INTEGER NOT NULL DEFAULT 0,
    attrs         TEXT    NOT NULL DEFAULT '',
    received_at   INTEGER NOT NULL
);
CREATE UNIQUE INDEX lead_events_event ON lead_events(event_id);
CREATE INDEX lead_events_customer ON lead_events(customer_id, product, occurred_at);
CREATE INDEX lead_events_time ON lead_events(occurred_at);

CREATE TABLE lead_timers (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    rule_id      INTEGER NOT NULL,
    rule_version INTEGER NOT NULL,
    customer_id  TEXT    NOT NULL,
    product      TEXT    NOT NULL,
    event_id     TEXT    NOT NULL,
    started_at   INTEGER NOT NULL,
    due_at       INTEGER NOT NULL,
    status       TEXT    NOT NULL
);
CREATE UNIQUE INDEX lead_timers_event ON lead_timers(rule_id, event_id);
CREATE INDEX lead_timers_due ON lead_timers(status, due_at);

CREATE TABLE leads (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id      TEXT    NOT NULL,
    product          TEXT    NOT NULL,
    rule_id          INTEGER NOT NULL,
    rule_version     INTEGER NOT NULL,
    priority         INTEGER NOT NULL,
    status           TEXT    NOT NULL,
    route            TEXT    NOT NULL,
    route_pos        INTEGER NOT NULL,
    channel          TEXT    NOT NULL,
    unit_id          INTEGER,
    assignee_id      INTEGER,
    trigger_event_id TEXT    NOT NULL,
    triggered_at     INTEGER NOT NULL,
    offered_at       INTEGER,
    sla_hours        INTEGER NOT NULL,
    sla_at_risk_at   INTEGER,
    sla_deadline     INTEGER,
    accepted_at      INTEGER,
    first_contact_at INTEGER,
    deferred_until   INTEGER,
    closed_at        INTEGER,
    outcome          TEXT    NOT NULL DEFAULT '',
    close_reason     TEXT    NOT NULL DEFAULT '',
    open_key         TEXT,
    cooldown_days    INTEGER NOT NULL,
    cooldown_until   INTEGER,
    lease_until      INTEGER NOT NULL DEFAULT 0,
    lease_holder     TEXT    NOT NULL DEFAULT '',
    returns          INTEGER NOT NULL DEFAULT 0,
    version          INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE UNIQUE INDEX leads_open_key ON leads(open_key);
CREATE INDEX leads_customer ON leads(customer_id, product);
CREATE INDEX leads_claim ON leads(channel, status, priority, offered_at);
CREATE INDEX leads_assignee ON leads(assignee_id, status);
CREATE INDEX leads_unit ON leads(unit_id, status);
CREATE INDEX leads_deadline ON leads(status, sla_deadline);
CREATE INDEX leads_deferred ON leads(status, deferred_until);

CREATE TABLE lead_history (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    lead_id     INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    from_status TEXT    NOT NULL,
    to_status   TEXT    NOT NULL,
    channel     TEXT    NOT NULL,
    actor       TEXT    NOT NULL,
    reason      TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX lead_history_lead ON lead_history(lead_id, id);
CREATE INDEX lead_history_reason ON lead_history(to_status, reason);

CREATE TABLE lead_contacts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    lead_id     INTEGER NOT NULL,
    customer_id TEXT    NOT NULL,
    channel     TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    outcome     TEXT    NOT NULL DEFAULT '',
    staff_id    INTEGER,
    unit_id     INTEGER,
    at          INTEGER NOT NULL,
    event_key   TEXT,
    note        TEXT    NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX lead_contacts_event ON lead_contacts(event_key);
CREATE INDEX lead_contacts_customer ON lead_contacts(customer_id, kind, at);
CREATE INDEX lead_contacts_lead ON lead_contacts(lead_id);

CREATE TABLE lead_worker_leases (
    name        TEXT    NOT NULL PRIMARY KEY,
    holder      TEXT    NOT NULL,
    lease_until INTEGER NOT NULL
);

-- +goose Down
DROP TABLE lead_worker_leases;
DROP TABLE lead_contacts;
DROP TABLE lead_history;
DROP TABLE leads;
DROP TABLE lead_timers;
DROP TABLE lead_events;
DROP TABLE lead_rule_versions;
DROP TABLE lead_rules;
DROP TABLE lead_calendar_days;
DROP TABLE lead_calendars;
DROP TABLE lead_staff_capacity;
DROP TABLE lead_channel_units;
DROP TABLE lead_settings;
