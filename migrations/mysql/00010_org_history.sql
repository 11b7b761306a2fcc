-- +goose Up
-- Effective-dated history: which unit a staff member was in, and where a
-- unit sat in the tree (its materialised path), over half-open intervals
-- [valid_from, valid_to). The open end is 9223372036854775807.
CREATE TABLE staff_assignments (
    id         BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    staff_id   BIGINT NOT NULL,
    unit_id    BIGINT NOT NULL,
    valid_from BIGINT NOT NULL,
    valid_to   BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    KEY staff_assignments_staff (staff_id, valid_from),
    KEY staff_assignments_open (staff_id, valid_to),
    KEY staff_assignments_unit (unit_id),
    CONSTRAINT staff_assignments_staff_fk FOREIGN KEY (staff_id) REFERENCES staff(id),
    CONSTRAINT staff_assignments_unit_fk FOREIGN KEY (unit_id) REFERENCES org_units(id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE unit_paths (
    id         BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    unit_id    BIGINT       NOT NULL,
    parent_id  BIGINT       NULL,
    path       VARCHAR(512) NOT NULL,
    valid_from BIGINT       NOT NULL,
    valid_to   BIGINT       NOT NULL,
    created_at BIGINT       NOT NULL,
    KEY unit_paths_unit (unit_id, valid_from),
    KEY unit_paths_open (unit_id, valid_to),
    CONSTRAINT unit_paths_unit_fk FOREIGN KEY (unit_id) REFERENCES org_units(id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- +goose Down
DROP TABLE unit_paths;
DROP TABLE staff_assignments;
