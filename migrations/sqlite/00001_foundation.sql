-- +goose Up
CREATE TABLE org_units (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT    NOT NULL,
    code       TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    parent_id  INTEGER REFERENCES org_units(id),
    path       TEXT    NOT NULL,
    depth      INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX org_units_code ON org_units(code);
CREATE INDEX org_units_path ON org_units(path);
CREATE INDEX org_units_parent ON org_units(parent_id);

CREATE TABLE staff (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    employee_no    TEXT    NOT NULL,
    name           TEXT    NOT NULL,
    unit_id        INTEGER NOT NULL REFERENCES org_units(id),
    roles          TEXT    NOT NULL DEFAULT 'staff',
    status         TEXT    NOT NULL DEFAULT 'active',
    left_at        INTEGER,
    phone_hash     TEXT,
    phone_masked   TEXT,
    password_hash  TEXT,
    token_version  INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);
CREATE UNIQUE INDEX staff_employee_no ON staff(employee_no);
CREATE INDEX staff_unit ON staff(unit_id);
CREATE INDEX staff_phone_hash ON staff(phone_hash);

CREATE TABLE service_clients (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    key_id     TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    salt       TEXT    NOT NULL,
    scopes     TEXT    NOT NULL DEFAULT '',
    status     TEXT    NOT NULL DEFAULT 'active',
    created_at INTEGER NOT NULL,
    rotated_at INTEGER,
    revoked_at INTEGER
);
CREATE UNIQUE INDEX service_clients_key ON service_clients(key_id);

CREATE TABLE request_signatures (
    signature  TEXT    NOT NULL PRIMARY KEY,
    key_id     TEXT    NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX request_signatures_expiry ON request_signatures(expires_at);

CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          INTEGER NOT NULL,
    actor       TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    entity_type TEXT    NOT NULL,
    entity_id   TEXT    NOT NULL,
    detail      TEXT    NOT NULL DEFAULT '',
    request_id  TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_entity ON audit_log(entity_type, entity_id);
CREATE INDEX audit_log_at ON audit_log(at);

-- +goose Down
DROP TABLE audit_log;
DROP TABLE request_signatures;
DROP TABLE service_clients;
DROP TABLE staff;
DROP TABLE org_units;
