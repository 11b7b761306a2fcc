-- +goose Up
CREATE TABLE org_units (
    id         BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    kind       VARCHAR(16)  NOT NULL,
    code       VARCHAR(64)  NOT NULL,
    name       VARCHAR(200) NOT NULL,
    parent_id  BIGINT       NULL,
    path       VARCHAR(512) NOT NULL,
    depth      INT          NOT NULL,
    created_at BIGINT       NOT NULL,
    updated_at BIGINT       NOT NULL,
    UNIQUE KEY org_units_code (code),
    KEY org_units_path (path),
    KEY org_units_parent (parent_id),
    CONSTRAINT org_units_parent_fk FOREIGN KEY (parent_id) REFERENCES org_units(id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE staff (
    id             BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    employee_no    VARCHAR(64)  NOT NULL,
    name           VARCHAR(100) NOT NULL,
    unit_id        BIGINT       NOT NULL,
    roles          VARCHAR(255) NOT NULL DEFAULT 'staff',
    status         VARCHAR(16)  NOT NULL DEFAULT 'active',
    left_at        BIGINT       NULL,
    phone_hash     VARCHAR(64)  NULL,
    phone_masked   VARCHAR(32)  NULL,
    password_hash  VARCHAR(255) NULL,
    token_version  INT          NOT NULL DEFAULT 0,
    created_at     BIGINT       NOT NULL,
    updated_at     BIGINT       NOT NULL,
    UNIQUE KEY staff_employee_no (employee_no),
    KEY staff_unit (unit_id),
    KEY staff_phone_hash (phone_hash),
    CONSTRAINT staff_unit_fk FOREIGN KEY (unit_id) REFERENCES org_units(id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE service_clients (
    id         BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    key_id     VARCHAR(64)  NOT NULL,
    name       VARCHAR(200) NOT NULL,
    salt       VARCHAR(64)  NOT NULL,
    scopes     VARCHAR(255) NOT NULL DEFAULT '',
    status     VARCHAR(16)  NOT NULL DEFAULT 'active',
    created_at BIGINT       NOT NULL,
    rotated_at BIGINT       NULL,
    revoked_at BIGINT       NULL,
    UNIQUE KEY service_clients_key (key_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE request_signatures (
    signature  VARCHAR(64)  NOT NULL PRIMARY KEY,
    key_id     VARCHAR(64)  NOT NULL,
    expires_at BIGINT       NOT NULL,
    KEY request_signatures_expiry (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE audit_log (
    id          BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    at          BIGINT       NOT NULL,
    actor       VARCHAR(100) NOT NULL,
    action      VARCHAR(100) NOT NULL,
    entity_type VARCHAR(64)  NOT NULL,
    entity_id   VARCHAR(64)  NOT NULL,
    detail      TEXT         NOT NULL,
    request_id  VARCHAR(64)  NOT NULL DEFAULT '',
    KEY audit_log_entity (entity_type, entity_id),
    KEY audit_log_at (at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- +goose Down
DROP TABLE audit_log;
DROP TABLE request_signatures;
DROP TABLE service_clients;
DROP TABLE staff;
DROP TABLE org_units;
