-- +goose Up
-- Refresh tokens: only a SHA-256 hash of each opaque token is kept. Tokens
-- issued by one login form a family; rotating marks the old token, and
-- presenting a rotated token again revokes the whole family.
CREATE TABLE refresh_tokens (
    id            BIGINT      NOT NULL AUTO_INCREMENT PRIMARY KEY,
    family_id     VARCHAR(64) NOT NULL,
    staff_id      BIGINT      NOT NULL,
    token_hash    CHAR(64)    NOT NULL,
    token_version INT         NOT NULL,
    issued_at     BIGINT      NOT NULL,
    expires_at    BIGINT      NOT NULL,
    rotated_at    BIGINT      NULL,
    revoked_at    BIGINT      NULL,
    UNIQUE KEY refresh_tokens_hash (token_hash),
    KEY refresh_tokens_family (family_id),
    KEY refresh_tokens_staff (staff_id),
    CONSTRAINT refresh_tokens_staff_fk FOREIGN KEY (staff_id) REFERENCES staff(id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Failed logins within the lockout window, and current lockouts, by the
-- employee number that was tried.
CREATE TABLE login_failures (
    id          BIGINT      NOT NULL AUTO_INCREMENT PRIMARY KEY,
    employee_no VARCHAR(64) NOT NULL,
    at          BIGINT      NOT NULL,
    KEY login_failures_emp (employee_no, at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE login_locks (
    employee_no  VARCHAR(64) NOT NULL PRIMARY KEY,
    locked_until BIGINT      NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- One-time activation codes (hashed), valid 72 hours.
CREATE TABLE activation_codes (
    id         BIGINT      NOT NULL AUTO_INCREMENT PRIMARY KEY,
    staff_id   BIGINT      NOT NULL,
    code_hash  CHAR(64)    NOT NULL,
    created_at BIGINT      NOT NULL,
    created_by VARCHAR(100) NOT NULL,
    expires_at BIGINT      NOT NULL,
    used_at    BIGINT      NULL,
    UNIQUE KEY activation_codes_hash (code_hash),
    KEY activation_codes_staff (staff_id),
    CONSTRAINT activation_codes_staff_fk FOREIGN KEY (staff_id) REFERENCES staff(id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- +goose Down
DROP TABLE activation_codes;
DROP TABLE login_locks;
DROP TABLE login_failures;
DROP TABLE refresh_tokens;
