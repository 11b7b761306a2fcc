-- +goose Up
CREATE TABLE lead_settings (
    id                   BIGINT NOT NULL PRIMARY KEY,
    week_cap             INT    NOT NULL,
    month_cap            INT    NOT NULL,
    quiet_start_min      INT    NOT NULL,
    quiet_end_min        INT    NOT NULL,
    lease_seconds        INT    NOT NULL,
    retention_hours      INT    NOT NULL,
    default_pool_unit_id BIGINT NULL,
    default_capacity     INT    NOT NULL,
    updated_at           BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
INSERT INTO lead_settings (id, week_cap, month_cap, quiet_start_min, quiet_end_min, lease_seconds, retention_hours, default_pool_unit_id, default_capacity, updated_at)
VALUES (1, 2, 4, 1260, 540, 300, 168, NULL, 30, 0);

CREATE TABLE lead_channel_units (
    channel    VARCHAR(32) NOT NULL PRIMARY KEY,
    unit_id    BIGINT      NOT NULL,
    updated_at BIGINT      NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE lead_staff_capacity (
    staff_id   BIGINT NOT NULL PRIMARY KEY,
    capacity   INT    NOT NULL,
    updated_at BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE lead_calendars (
    unit_id    BIGINT      NOT NULL PRIMARY KEY,
    timezone   VARCHAR(64) NOT NULL,
    workdays   VARCHAR(16) NOT NULL,
    start_min  INT         NOT NULL,
    end_min    INT         NOT NULL,
    updated_at BIGINT      NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE lead_calendar_days (
    unit_id BIGINT      NOT NULL,
    day     CHAR(10)    NOT NULL,
    kind    VARCHAR(16) NOT NULL,
    PRIMARY KEY (unit_id, day)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE lead_rules (
    id         BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    code       VARCHAR(64)  NOT NULL,
    name       VARCHAR(200) NOT NULL,
    status     VARCHAR(16)  NOT NULL,
    version    INT          NOT NULL,
    definition TEXT         NOT NULL,
    created_by VARCHAR(100) NOT NULL,
    created_at BIGINT       NOT NULL,
    updated_at BIGINT       NOT NULL,
    UNIQUE KEY lead_rules_code (code)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE lead_rule_versions (
    rule_id    BIGINT       NOT NULL,
    version    INT          NOT NULL,
    definition TEXT         NOT NULL,
    created_by VARCHAR(100) NOT NULL,
    created_at BIGINT       NOT NULL,
    PRIMARY KEY (rule_id, version)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE lead_events (
    id            BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    event_id      VARCHAR(128) NOT NULL,
    customer_id   VARCHAR(64)  NOT NULL DEFAULT '',
    visitor_id    VARCHAR(128) NOT NULL DEFAULT '',
    kind          VARCHAR(64)  NOT NULL,
    product       VARCHAR(64)  NOT NULL DEFAULT '',
    occurred_at   BIGINT       NOT NULL,
    dwell_seconds INT          NOT NULL DEFAULT 0,
    attrs         TEXT         NOT NULL,
    received_at   BIGINT       NOT NULL,
    UNIQUE KEY lead_events_event (event_id),
    KEY lead_events_customer (customer_id, product, occurred_at),
    KEY lead_events_time (occurred_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE lead_timers (
    id           BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    rule_id      BIGINT       NOT NULL,
    rule_version INT          NOT NULL,
    customer_id  VARCHAR(64)  NOT NULL,
    product      VARCHAR(64)  NOT NULL,
    event_id     VARCHAR(128) NOT NULL,
    started_at   BIGINT       NOT NULL,
    due_at       BIGINT       NOT NULL,
    status       VARCHAR(16)  NOT NULL,
    UNIQUE KEY lead_timers_event (rule_id, event_id),
    KEY lead_timers_due (status, due_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE leads (
    id               BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    customer_id      VARCHAR(64)  NOT NULL,
    product          VARCHAR(64)  NOT NULL,
    rule_id          BIGINT       NOT NULL,
    rule_version     INT          NOT NULL,
    priority         INT          NOT NULL,
    status           VARCHAR(16)  NOT NULL,
    route            VARCHAR(255) NOT NULL,
    route_pos        INT          NOT NULL,
    channel          VARCHAR(32)  NOT NULL,
    unit_id          BIGINT       NULL,
    assignee_id      BIGINT       NULL,
    trigger_event_id VARCHAR(128) NOT NULL,
    triggered_at     BIGINT       NOT NULL,
    offered_at       BIGINT       NULL,
    sla_hours        INT          NOT NULL,
    sla_at_risk_at   BIGINT       NULL,
    sla_deadline     BIGINT       NULL,
    accepted_at      BIGINT       NULL,
    first_contact_at BIGINT       NULL,
    deferred_until   BIGINT       NULL,
    closed_at        BIGINT       NULL,
    outcome          VARCHAR(32)  NOT NULL DEFAULT '',
    close_reason     VARCHAR(64)  NOT NULL DEFAULT '',
    open_key         VARCHAR(200) NULL,
    cooldown_days    INT          NOT NULL,
    cooldown_until   BIGINT       NULL,
    lease_until      BIGINT       NOT NULL DEFAULT 0,
    lease_holder     VARCHAR(128) NOT NULL DEFAULT '',
    returns          INT          NOT NULL DEFAULT 0,
    version          INT          NOT NULL DEFAULT 0,
    created_at       BIGINT       NOT NULL,
    updated_at       BIGINT       NOT NULL,
    UNIQUE KEY leads_open_key (open_key),
    KEY leads_customer (customer_id, product),
    KEY leads_claim (channel, status, priority, offered_at),
    KEY leads_assignee (assignee_id, status),
    KEY leads_unit (unit_id, status),
    KEY leads_deadline (status, sla_deadline),
    KEY leads_deferred (status, deferred_until)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE lead_history (
    id          BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    lead_id     BIGINT       NOT NULL,
    at          BIGINT       NOT NULL,
    from_status VARCHAR(16)  NOT NULL,
    to_status   VARCHAR(16)  NOT NULL,
    channel     VARCHAR(32)  NOT NULL,
    actor       VARCHAR(100) NOT NULL,
    reason      VARCHAR(64)  NOT NULL DEFAULT '',
    KEY lead_history_lead (lead_id, id),
    KEY lead_history_reason (to_status, reason)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE lead_contacts (
    id          BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    lead_id     BIGINT       NOT NULL,
    customer_id VARCHAR(64)  NOT NULL,
    channel     VARCHAR(32)  NOT NULL,
    kind        VARCHAR(16)  NOT NULL,
    outcome     VARCHAR(32)  NOT NULL DEFAULT '',
    staff_id    BIGINT       NULL,
    unit_id     BIGINT       NULL,
    at          BIGINT       NOT NULL,
    event_key   VARCHAR(200) NULL,
    note        VARCHAR(500) NOT NULL DEFAULT '',
    created_at  BIGINT       NOT NULL,
    UNIQUE KEY lead_contacts_event (event_key),
    KEY lead_contacts_customer (customer_id, kind, at),
    KEY lead_contacts_lead (lead_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE lead_worker_leases (
    name        VARCHAR(64)  NOT NULL PRIMARY KEY,
    holder      VARCHAR(128) NOT NULL,
    lease_until BIGINT       NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

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
