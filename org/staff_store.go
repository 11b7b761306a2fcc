package org

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"rmref/internal/auth"
	"rmref/internal/db"
)

const staffCols = `st.id, st.employee_no, st.name, st.unit_id, u.code AS unit_code, u.path AS unit_path, st.roles, st.status,
st.left_at, st.phone_hash, st.phone_masked, st.token_version, st.created_at, st.updated_at`

// StaffFilter selects staff; zero fields match everything.
type StaffFilter struct {
	UnitID    int64
	Under     string // materialised path prefix: staff anywhere in a subtree
	Status    Status
	PhoneHash string
	AfterID   int64
	Limit     int
}

// from returns the FROM and WHERE clauses for f and p; the unit join is
// left out when nothing needs it (a count over every staff member).
func (f StaffFilter) from(p auth.Principal) (string, []any) {
	where, args := f.where(p)
	if _, sub := p.ScopePath(); sub && !p.ReadsAll() || f.Under != "" {
		return ` FROM staff st JOIN org_units u ON u.id = st.unit_id WHERE ` + where, args
	}
	return ` FROM staff st WHERE ` + where, args
}

func (f StaffFilter) where(p auth.Principal) (string, []any) {
	cond, args := staffScope(p)
	w := []string{cond}
	if f.UnitID > 0 {
		w, args = append(w, "st.unit_id = ?"), append(args, f.UnitID)
	}
	if f.Under != "" {
		lo, hi := auth.PathRange(f.Under)
		w, args = append(w, "u.path >= ? AND u.path < ?"), append(args, lo, hi)
	}
	if f.Status != "" {
		w, args = append(w, "st.status = ?"), append(args, string(f.Status))
	}
	if f.PhoneHash != "" {
		w, args = append(w, "st.phone_hash = ?"), append(args, f.PhoneHash)
	}
	return strings.Join(w, " AND "), args
}

// ListStaff returns the staff p may see that match f, by id, and the total.
func (s *Store) ListStaff(ctx context.Context, ext sqlx.ExtContext, p auth.Principal, f StaffFilter) ([]Staff, int64, error) {
	from, args := f.from(p)
	var total int64
	if err := sqlx.GetContext(ctx, ext, &total, `SELECT COUNT(*)`+from, args...); err != nil {
		return nil, 0, fmt.Errorf("org: count staff: %w", err)
	}
	// A deferred join: the page's ids come from the indexes alone (path,
	// then staff_unit, which carries the id), and only those rows are read.
	// Every staff row has a unit (foreign key), so leaving the join out of
	// an unscoped count changes nothing but its cost.
	var rows []staffRow
	q := `SELECT ` + staffCols + ` FROM (SELECT st.id` + from + ` AND st.id > ? ORDER BY st.id LIMIT ?) page
JOIN staff st ON st.id = page.id JOIN org_units u ON u.id = st.unit_id ORDER BY st.id`
	if err := sqlx.SelectContext(ctx, ext, &rows, q, append(args, f.AfterID, limitOf(f.Limit))...); err != nil {
		return nil, 0, fmt.Errorf("org: list staff: %w", err)
	}
	out := make([]Staff, len(rows))
	for i, r := range rows {
		out[i] = r.staff()
	}
	return out, total, nil
}

// GetStaff returns staff member id if p may see them, else ErrStaffNotFound.
func (s *Store) GetStaff(ctx context.Context, ext sqlx.ExtContext, p auth.Principal, id int64) (Staff, error) {
	r, err := s.getStaffRow(ctx, ext, p, "st.id = ?", id)
	if err != nil {
		return Staff{}, err
	}
	return r.staff(), nil
}

// StaffByEmployeeNo returns a staff member by employee number if p may see them.
func (s *Store) StaffByEmployeeNo(ctx context.Context, ext sqlx.ExtContext, p auth.Principal, no string) (Staff, error) {
	r, err := s.getStaffRow(ctx, ext, p, "st.employee_no = ?", no)
	if err != nil {
		return Staff{}, err
	}
	return r.staff(), nil
}

func (s *Store) getStaffRow(ctx context.Context, ext sqlx.ExtContext, p auth.Principal, key string, v any) (staffRow, error) {
	cond, args := staffScope(p)
	var r staffRow
	q := `SELECT ` + staffCols + ` FROM staff st JOIN org_units u ON u.id = st.unit_id WHERE ` + key + ` AND ` + cond
	err := sqlx.GetContext(ctx, ext, &r, q, append([]any{v}, args...)...)
	if errors.Is(err, db.ErrNoRows) {
		return staffRow{}, ErrStaffNotFound
	}
	if err != nil {
		return staffRow{}, fmt.Errorf("org: get staff: %w", err)
	}
	return r, nil
}

// insertStaff creates a staff member in unit with the first assignment
// from validFrom.
func (s *Store) insertStaff(ctx context.Context, ext sqlx.ExtContext, st Staff, validFrom, now time.Time) (int64, error) {
	res, err := ext.ExecContext(ctx, `INSERT INTO staff (employee_no, name, unit_id, roles, status, left_at, phone_hash, phone_masked, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		st.EmployeeNo, st.Name, st.UnitID, auth.FormatRoles(st.Roles), string(st.Status), nullTime(st.LeftAt),
		nullStr(st.PhoneHash), nullStr(st.PhoneMasked), db.Micros(now), db.Micros(now))
	if s.dialect.IsUniqueViolation(err) {
		return 0, ErrDuplicateEmp
	}
	if err != nil {
		return 0, fmt.Errorf("org: insert staff %s: %w", st.EmployeeNo, err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("org: insert staff %s: %w", st.EmployeeNo, err)
	}
	if err := s.openAssignment(ctx, ext, id, st.UnitID, validFrom, now); err != nil {
		return 0, err
	}
	return id, nil
}

func (s *Store) openAssignment(ctx context.Context, ext sqlx.ExtContext, staffID, unitID int64, from, now time.Time) error {
	_, err := ext.ExecContext(ctx, `INSERT INTO staff_assignments (staff_id, unit_id, valid_from, valid_to, created_at) VALUES (?, ?, ?, ?, ?)`,
		staffID, unitID, db.Micros(from), OpenEnd, db.Micros(now))
	if err != nil {
		return fmt.Errorf("org: assignment of staff %d: %w", staffID, err)
	}
	return nil
}

// updateStaff writes the mutable fields of st (name, roles, status,
// left_at, phone) and bumps the token version when bump is set.
func (s *Store) updateStaff(ctx context.Context, ext sqlx.ExtContext, st Staff, bump bool, now time.Time) error {
	inc := 0
	if bump {
		inc = 1
	}
	_, err := ext.ExecContext(ctx, `UPDATE staff SET name = ?, roles = ?, status = ?, left_at = ?, phone_hash = ?, phone_masked = ?,
token_version = token_version + ?, updated_at = ? WHERE id = ?`,
		st.Name, auth.FormatRoles(st.Roles), string(st.Status), nullTime(st.LeftAt), nullStr(st.PhoneHash), nullStr(st.PhoneMasked),
		inc, db.Micros(now), st.ID)
	if err != nil {
		return fmt.Errorf("org: update staff %d: %w", st.ID, err)
	}
	return nil
}

// currentAssignmentStart returns when the staff member's open assignment began.
func (s *Store) currentAssignmentStart(ctx context.Context, ext sqlx.ExtContext, staffID int64) (time.Time, error) {
	var us sql.NullInt64
	err := sqlx.GetContext(ctx, ext, &us, `SELECT MAX(valid_from) FROM staff_assignments WHERE staff_id = ? AND valid_to = ?`, staffID, OpenEnd)
	if err != nil {
		return time.Time{}, fmt.Errorf("org: assignment of staff %d: %w", staffID, err)
	}
	return db.FromMicros(us.Int64), nil
}

// transferStaff moves a staff member to unitID from instant at, closing
// the open assignment.
func (s *Store) transferStaff(ctx context.Context, ext sqlx.ExtContext, staffID, unitID int64, at, now time.Time) error {
	if _, err := ext.ExecContext(ctx, `UPDATE staff_assignments SET valid_to = ? WHERE staff_id = ? AND valid_to = ?`,
		db.Micros(at), staffID, OpenEnd); err != nil {
		return fmt.Errorf("org: transfer staff %d: %w", staffID, err)
	}
	if _, err := ext.ExecContext(ctx, `UPDATE staff SET unit_id = ?, updated_at = ? WHERE id = ?`, unitID, db.Micros(now), staffID); err != nil {
		return fmt.Errorf("org: transfer staff %d: %w", staffID, err)
	}
	return s.openAssignment(ctx, ext, staffID, unitID, at, now)
}

// StaffHistory returns the assignments of a staff member p may see, oldest first.
func (s *Store) StaffHistory(ctx context.Context, ext sqlx.ExtContext, p auth.Principal, id int64) ([]Assignment, error) {
	if _, err := s.GetStaff(ctx, ext, p, id); err != nil {
		return nil, err
	}
	var rows []struct {
		UnitID    int64  `db:"unit_id"`
		Code      string `db:"code"`
		Name      string `db:"name"`
		Path      string `db:"path"`
		ValidFrom int64  `db:"valid_from"`
		ValidTo   int64  `db:"valid_to"`
	}
	err := sqlx.SelectContext(ctx, ext, &rows, `SELECT a.unit_id, u.code, u.name, u.path, a.valid_from, a.valid_to
FROM staff_assignments a JOIN org_units u ON u.id = a.unit_id WHERE a.staff_id = ? AND a.valid_to > a.valid_from ORDER BY a.valid_from, a.id`, id)
	if err != nil {
		return nil, fmt.Errorf("org: staff history %d: %w", id, err)
	}
	out := make([]Assignment, len(rows))
	for i, r := range rows {
		out[i] = Assignment{UnitID: r.UnitID, UnitCode: r.Code, UnitName: r.Name, Path: r.Path, ValidFrom: db.FromMicros(r.ValidFrom), ValidTo: validTo(r.ValidTo)}
	}
	return out, nil
}

func nullTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return db.Micros(*t)
}

func nullStr(s string) any {
	if s == "" {
		return nil
	}
	return s
}
