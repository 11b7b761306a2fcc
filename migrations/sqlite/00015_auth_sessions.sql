-- +goose Up
-- Refresh tokens: only a SHA-256 hash of each opaque token is kept. Tokens
-- issued by one login form a family; rotating marks the old token, and
-- presenting a rotated token again revokes the whole family.
CREATE TABLE refresh_tokens (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    family_id     TEXT    NOT NULL,
    staff_id      INTEGER NOT NULL REFERENCES staff(id),
    token_hash    TEXT    NOT NULL,
    token_version INTEGER NOT NULL,
    issued_at     INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    rotated_at    INTEGER,
    revoked_at    INTEGER
);
CREATE UNIQUE INDEX refresh_tokens_hash ON refresh_tokens(token_hash);
CREATE INDEX refresh_tokens_family ON refresh_tokens(family_id);
CREATE INDEX refresh_tokens_staff ON refresh_tokens(staff_id);

-- Failed logins within the lockout window, and current lockouts, by the
-- employee number that was tried.
CREATE TABLE login_failures (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    employee_no TEXT    NOT NULL,
    at          INTEGER NOT NULL
);
CREATE INDEX login_failures_emp ON login_failures(employee_no, at);

CREATE TABLE login_locks (
    employee_no  TEXT    NOT NULL PRIMARY KEY,
    locked_until INTEGER NOT NULL
);

-- One-time activation codes (hashed), valid 72 hours.
CREATE TABLE activation_codes (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    staff_id   INTEGER NOT NULL REFERENCES staff(id),
    code_hash  TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    created_by TEXT    NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
);
CREATE UNIQUE INDEX activation_codes_hash ON activation_codes(code_hash);
CREATE INDEX activation_codes_staff ON activation_codes(staff_id);

-- +goose Down
DROP TABLE activation_codes;
DROP TABLE login_locks;
DROP TABLE login_failures;
DROP TABLE refresh_tokens;
