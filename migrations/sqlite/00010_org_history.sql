-- +goose Up
-- Effective-dated history: which unit a staff member was in, and where a
-- unit sat in the tree (its materialised path), over half-open intervals
-- [valid_from, valid_to). The open end is 9223372036854775807.
CREATE TABLE staff_assignments (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    staff_id   INTEGER NOT NULL REFERENCES staff(id),
    unit_id    INTEGER NOT NULL REFERENCES org_units(id),
    valid_from INTEGER NOT NULL,
    valid_to   INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX staff_assignments_staff ON staff_assignments(staff_id, valid_from);
CREATE INDEX staff_assignments_open ON staff_assignments(staff_id, valid_to);
CREATE INDEX staff_assignments_unit ON staff_assignments(unit_id);

CREATE TABLE unit_paths (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    unit_id    INTEGER NOT NULL REFERENCES org_units(id),
    parent_id  INTEGER,
    path       TEXT    NOT NULL,
    valid_from INTEGER NOT NULL,
    valid_to   INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX unit_paths_unit ON unit_paths(unit_id, valid_from);
CREATE INDEX unit_paths_open ON unit_paths(unit_id, valid_to);

-- +goose Down
DROP TABLE unit_paths;
DROP TABLE staff_assignments;
