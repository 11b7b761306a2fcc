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

type unitRow struct {
	ID        int64         `db:"id"`
	Kind      string        `db:"kind"`
	Code      string        `db:"code"`
	Name      string        `db:"name"`
	ParentID  sql.NullInt64 `db:"parent_id"`
	Path      string        `db:"path"`
	Depth     int           `db:"depth"`
	CreatedAt int64         `db:"created_at"`
	UpdatedAt int64         `db:"updated_at"`
}

func (r unitRow) unit() Unit {
	return Unit{ID: r.ID, Kind: Kind(r.Kind), Code: r.Code, Name: r.Name, ParentID: r.ParentID.Int64,
		Path: r.Path, Depth: r.Depth, CreatedAt: db.FromMicros(r.CreatedAt), UpdatedAt: db.FromMicros(r.UpdatedAt)}
}

type staffRow struct {
	ID          int64          `db:"id"`
	EmployeeNo  string         `db:"employee_no"`
	Name        string         `db:"name"`
	UnitID      int64          `db:"unit_id"`
	UnitCode    string         `db:"unit_code"`
	UnitPath    string         `db:"unit_path"`
	Roles       string         `db:"roles"`
	Status      string         `db:"status"`
	LeftAt      sql.NullInt64  `db:"left_at"`
	PhoneHash   sql.NullString `db:"phone_hash"`
	PhoneMasked sql.NullString `db:"phone_masked"`
	TokenVer    int64          `db:"token_version"`
	CreatedAt   int64          `db:"created_at"`
	UpdatedAt   int64          `db:"updated_at"`
}

func (r staffRow) staff() Staff {
	st := Staff{ID: r.ID, EmployeeNo: r.EmployeeNo, Name: r.Name, UnitID: r.UnitID, UnitCode: r.UnitCode,
		UnitPath: r.UnitPath, Roles: auth.ParseRoles(r.Roles), Status: Status(r.Status),
		PhoneMasked: r.PhoneMasked.String, PhoneHash: r.PhoneHash.String,
		CreatedAt: db.FromMicros(r.CreatedAt), UpdatedAt: db.FromMicros(r.UpdatedAt)}
	if r.LeftAt.Valid {
		t := db.FromMicros(r.LeftAt.Int64)
		st.LeftAt = &t
	}
	return st
}

// unitScope returns the condition on org_units alias u that limits reads
// to what p may see: everything (hq_admin, auditor), a manager's subtree,
// a staff member's own unit, nothing otherwise.
func unitScope(p auth.Principal) (string, []any) {
	if prefix, ok := p.ScopePath(); ok {
		if prefix == "" {
			return "1=1", nil
		}
		lo, hi := auth.PathRange(prefix)
		return "u.path >= ? AND u.path < ?", []any{lo, hi}
	}
	if p.IsStaff() {
		return "u.id = ?", []any{p.UnitID}
	}
	return "1=0", nil
}

// staffScope is unitScope for staff rows (alias st, unit alias u): staff
// members without a wider role see only themselves.
func staffScope(p auth.Principal) (string, []any) {
	if _, ok := p.ScopePath(); ok {
		return unitScope(p)
	}
	if p.IsStaff() {
		return "st.id = ?", []any{p.StaffID}
	}
	return "1=0", nil
}

const unitCols = `u.id, u.kind, u.code, u.name, u.parent_id, u.path, u.depth, u.created_at, u.updated_at`

// UnitFilter selects units; zero fields match everything.
type UnitFilter struct {
	Kind     Kind
	ParentID int64
	Under    string // materialised path prefix: the subtree of a unit
	Code     string
	AfterID  int64
	Limit    int
}

func (f UnitFilter) where(p auth.Principal) (string, []any) {
	cond, args := unitScope(p)
	w := []string{cond}
	if f.Kind != "" {
		w, args = append(w, "u.kind = ?"), append(args, string(f.Kind))
	}
	if f.ParentID > 0 {
		w, args = append(w, "u.parent_id = ?"), append(args, f.ParentID)
	}
	if f.Under != "" {
		lo, hi := auth.PathRange(f.Under)
		w, args = append(w, "u.path >= ? AND u.path < ?"), append(args, lo, hi)
	}
	if f.Code != "" {
		w, args = append(w, "u.code = ?"), append(args, f.Code)
	}
	return strings.Join(w, " AND "), args
}

// ListUnits returns the units p may see that match f, by id, and the total.
func (s *Store) ListUnits(ctx context.Context, ext sqlx.ExtContext, p auth.Principal, f UnitFilter) ([]Unit, int64, error) {
	where, args := f.where(p)
	var total int64
	if err := sqlx.GetContext(ctx, ext, &total, `SELECT COUNT(*) FROM org_units u WHERE `+where, args...); err != nil {
		return nil, 0, fmt.Errorf("org: count units: %w", err)
	}
	var rows []unitRow
	q := `SELECT ` + unitCols + ` FROM org_units u WHERE ` + where + ` AND u.id > ? ORDER BY u.id LIMIT ?`
	if err := sqlx.SelectContext(ctx, ext, &rows, q, append(args, f.AfterID, limitOf(f.Limit))...); err != nil {
		return nil, 0, fmt.Errorf("org: list units: %w", err)
	}
	out := make([]Unit, len(rows))
	for i, r := range rows {
		out[i] = r.unit()
	}
	return out, total, nil
}

// GetUnit returns unit id if p may see it, else ErrUnitNotFound.
func (s *Store) GetUnit(ctx context.Context, ext sqlx.ExtContext, p auth.Principal, id int64) (Unit, error) {
	cond, args := unitScope(p)
	var r unitRow
	err := sqlx.GetContext(ctx, ext, &r, `SELECT `+unitCols+` FROM org_units u WHERE u.id = ? AND `+cond, append([]any{id}, args...)...)
	if errors.Is(err, db.ErrNoRows) {
		return Unit{}, ErrUnitNotFound
	}
	if err != nil {
		return Unit{}, fmt.Errorf("org: get unit %d: %w", id, err)
	}
	return r.unit(), nil
}

// unitByID reads a unit without scope (for the service's own checks).
func (s *Store) unitByID(ctx context.Context, ext sqlx.ExtContext, id int64) (Unit, error) {
	return s.GetUnit(ctx, ext, auth.Principal{Roles: []auth.Role{auth.RoleAuditor}}, id)
}

// unitByCode reads a unit by code without scope.
func (s *Store) unitByCode(ctx context.Context, ext sqlx.ExtContext, code string) (Unit, error) {
	var r unitRow
	err := sqlx.GetContext(ctx, ext, &r, `SELECT `+unitCols+` FROM org_units u WHERE u.code = ?`, code)
	if errors.Is(err, db.ErrNoRows) {
		return Unit{}, ErrUnitNotFound
	}
	if err != nil {
		return Unit{}, fmt.Errorf("org: unit %q: %w", code, err)
	}
	return r.unit(), nil
}

// hasRoot reports whether the tree has its hq root.
func (s *Store) hasRoot(ctx context.Context, ext sqlx.ExtContext) (bool, error) {
	var n int
	if err := sqlx.GetContext(ctx, ext, &n, `SELECT COUNT(*) FROM org_units WHERE parent_id IS NULL`); err != nil {
		return false, fmt.Errorf("org: root: %w", err)
	}
	return n > 0, nil
}

// insertUnit creates a unit under parent (zero Unit for the root) with its
// first path history row from validFrom.
func (s *Store) insertUnit(ctx context.Context, ext sqlx.ExtContext, u Unit, parent Unit, validFrom, now time.Time) (Unit, error) {
	var pid any
	if parent.ID > 0 {
		pid, u.Depth = parent.ID, parent.Depth+1
	}
	res, err := ext.ExecContext(ctx, `INSERT INTO org_units (kind, code, name, parent_id, path, depth, created_at, updated_at) VALUES (?, ?, ?, ?, '', ?, ?, ?)`,
		string(u.Kind), u.Code, u.Name, pid, u.Depth, db.Micros(now), db.Micros(now))
	if s.dialect.IsUniqueViolation(err) {
		return Unit{}, ErrDuplicateCode
	}
	if err != nil {
		return Unit{}, fmt.Errorf("org: insert unit %s: %w", u.Code, err)
	}
	if u.ID, err = res.LastInsertId(); err != nil {
		return Unit{}, fmt.Errorf("org: insert unit %s: %w", u.Code, err)
	}
	u.ParentID, u.Path, u.CreatedAt, u.UpdatedAt = parent.ID, childPath(parent.Path, u.ID), now, now
	if _, err := ext.ExecContext(ctx, `UPDATE org_units SET path = ? WHERE id = ?`, u.Path, u.ID); err != nil {
		return Unit{}, fmt.Errorf("org: insert unit %s: %w", u.Code, err)
	}
	_, err = ext.ExecContext(ctx, `INSERT INTO unit_paths (unit_id, parent_id, path, valid_from, valid_to, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		u.ID, pid, u.Path, db.Micros(validFrom), OpenEnd, db.Micros(now))
	if err != nil {
		return Unit{}, fmt.Errorf("org: unit %s history: %w", u.Code, err)
	}
	return u, nil
}

// renameUnit sets a unit's name.
func (s *Store) renameUnit(ctx context.Context, ext sqlx.ExtContext, id int64, name string, now time.Time) error {
	_, err := ext.ExecContext(ctx, `UPDATE org_units SET name = ?, updated_at = ? WHERE id = ?`, name, db.Micros(now), id)
	if err != nil {
		return fmt.Errorf("org: rename unit %d: %w", id, err)
	}
	return nil
}

// Subtree moves rewrite every path under the moved unit in one statement
// each: close the open history rows, rewrite paths and depths, open new
// history rows. CONCAT and SUBSTR exist in SQLite (3.44+) and MySQL.
const (
	qCloseSubtreePaths = `UPDATE unit_paths SET valid_to = ?
WHERE valid_to = ? AND unit_id IN (SELECT id FROM org_units WHERE path >= ? AND path < ?)`
	qRewriteSubtree = `UPDATE org_units SET path = CONCAT(?, SUBSTR(path, ?)), depth = depth + ?, updated_at = ?
WHERE path >= ? AND path < ?`
	qOpenSubtreePaths = `INSERT INTO unit_paths (unit_id, parent_id, path, valid_from, valid_to, created_at)
SELECT id, parent_id, path, ?, ?, ? FROM org_units WHERE path >= ? AND path < ?`
)

// moveUnit puts u (with its subtree) under parent from instant at.
func (s *Store) moveUnit(ctx context.Context, ext sqlx.ExtContext, u, parent Unit, at, now time.Time) (Unit, error) {
	newPath := childPath(parent.Path, u.ID)
	atUS, nowUS := db.Micros(at), db.Micros(now)
	lo, hi := auth.PathRange(u.Path)
	if _, err := ext.ExecContext(ctx, qCloseSubtreePaths, atUS, OpenEnd, lo, hi); err != nil {
		return Unit{}, fmt.Errorf("org: move unit %d: close history: %w", u.ID, err)
	}
	if _, err := ext.ExecContext(ctx, `UPDATE org_units SET parent_id = ? WHERE id = ?`, parent.ID, u.ID); err != nil {
		return Unit{}, fmt.Errorf("org: move unit %d: %w", u.ID, err)
	}
	dd := parent.Depth + 1 - u.Depth
	if _, err := ext.ExecContext(ctx, qRewriteSubtree, newPath, len(u.Path)+1, dd, nowUS, lo, hi); err != nil {
		return Unit{}, fmt.Errorf("org: move unit %d: rewrite paths: %w", u.ID, err)
	}
	lo, hi = auth.PathRange(newPath)
	if _, err := ext.ExecContext(ctx, qOpenSubtreePaths, atUS, OpenEnd, nowUS, lo, hi); err != nil {
		return Unit{}, fmt.Errorf("org: move unit %d: open history: %w", u.ID, err)
	}
	u.ParentID, u.Path, u.Depth, u.UpdatedAt = parent.ID, newPath, parent.Depth+1, now
	return u, nil
}

// latestSubtreeChange returns the latest valid_from of the open path rows
// in the subtree under prefix: a move may not take effect before it.
func (s *Store) latestSubtreeChange(ctx context.Context, ext sqlx.ExtContext, prefix string) (time.Time, error) {
	lo, hi := auth.PathRange(prefix)
	var us sql.NullInt64
	err := sqlx.GetContext(ctx, ext, &us, `SELECT MAX(p.valid_from) FROM unit_paths p JOIN org_units u ON u.id = p.unit_id
WHERE u.path >= ? AND u.path < ? AND p.valid_to = ?`, lo, hi, OpenEnd)
	if err != nil {
		return time.Time{}, fmt.Errorf("org: subtree history: %w", err)
	}
	return db.FromMicros(us.Int64), nil
}

// UnitHistory returns the positions of a unit p may see, oldest first.
func (s *Store) UnitHistory(ctx context.Context, ext sqlx.ExtContext, p auth.Principal, id int64) ([]PathEntry, error) {
	if _, err := s.GetUnit(ctx, ext, p, id); err != nil {
		return nil, err
	}
	var rows []struct {
		ParentID  sql.NullInt64 `db:"parent_id"`
		Path      string        `db:"path"`
		ValidFrom int64         `db:"valid_from"`
		ValidTo   int64         `db:"valid_to"`
	}
	err := sqlx.SelectContext(ctx, ext, &rows, `SELECT parent_id, path, valid_from, valid_to FROM unit_paths WHERE unit_id = ? ORDER BY valid_from, id`, id)
	if err != nil {
		return nil, fmt.Errorf("org: unit history %d: %w", id, err)
	}
	out := make([]PathEntry, len(rows))
	for i, r := range rows {
		out[i] = PathEntry{ParentID: r.ParentID.Int64, Path: r.Path, ValidFrom: db.FromMicros(r.ValidFrom), ValidTo: validTo(r.ValidTo)}
	}
	return out, nil
}

func validTo(us int64) *time.Time {
	if us == OpenEnd {
		return nil
	}
	t := db.FromMicros(us)
	return &t
}

func limitOf(n int) int {
	if n <= 0 || n > 500 {
		return 50
	}
	return n
}
