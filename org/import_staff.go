package org

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"rmref/internal/apperr"
	"rmref/internal/auth"
	"rmref/internal/db"
	"rmref/internal/pii"
)

// staffLine is one parsed row of a staff file.
type staffLine struct {
	line                 int
	no, name, unitCode   string
	unitID               int64
	roles                []auth.Role // nil: keep (staff for a new member)
	status               Status
	leftAt               *time.Time
	phoneHash, phoneMask string // "": keep
}

// importedStaff is a stored staff member as the import compares it.
type importedStaff struct {
	ID          int64          `db:"id"`
	EmployeeNo  string         `db:"employee_no"`
	Name        string         `db:"name"`
	UnitID      int64          `db:"unit_id"`
	Roles       string         `db:"roles"`
	Status      string         `db:"status"`
	LeftAt      sql.NullInt64  `db:"left_at"`
	PhoneHash   sql.NullString `db:"phone_hash"`
	PhoneMasked sql.NullString `db:"phone_masked"`
	TokenVer    int64          `db:"token_version"`
	CreatedAt   int64          `db:"created_at"`
}

func (s *Service) parseStaffRows(rows []csvRow, units map[string]int64, e *rowErrors) []staffLine {
	seen := map[string]int{}
	out := make([]staffLine, 0, len(rows))
	for _, r := range rows {
		l := staffLine{line: r.line, no: r.cells["employee_no"], name: r.cells["name"], unitCode: r.cells["unit_code"]}
		var c apperr.Collector
		checkCode(&c, "employee_no", l.no)
		checkName(&c, "name", l.name)
		for _, f := range fieldsOf(c) {
			e.add(l.line, f.Field, f.Message)
		}
		if first, dup := seen[l.no]; dup && l.no != "" {
			e.add(l.line, "employee_no", fmt.Sprintf("duplicate of line %d", first))
		}
		seen[l.no] = l.line
		var ok bool
		if l.unitID, ok = units[l.unitCode]; !ok {
			e.add(l.line, "unit_code", "no unit with code "+quoteOr(l.unitCode))
		}
		l.roles = parseRoleCell(r.cells["roles"], l.line, e)
		s.parseStatus(&l, r.cells["status"], r.cells["left_on"], e)
		s.parsePhone(&l, r.cells["phone"], e)
		out = append(out, l)
	}
	return out
}

func quoteOr(s string) string {
	if s == "" {
		return "(empty)"
	}
	return s
}

// parseRoleCell reads roles separated by ';', '|' or ','.
func parseRoleCell(v string, line int, e *rowErrors) []auth.Role {
	if v == "" {
		return nil
	}
	var rs []auth.Role
	for _, p := range strings.FieldsFunc(v, func(r rune) bool { return r == ';' || r == '|' || r == ',' }) {
		r := auth.Role(strings.ToLower(strings.TrimSpace(p)))
		if !auth.ValidRole(r) {
			e.add(line, "roles", "unknown role "+quoteOr(string(r))+" (staff, manager, campaign_manager, hq_admin, auditor)")
			continue
		}
		rs = append(rs, r)
	}
	return normRoles(rs)
}

func (s *Service) parseStatus(l *staffLine, status, leftOn string, e *rowErrors) {
	l.status = Status(strings.ToLower(status))
	if l.status == "" {
		l.status = StatusActive
	}
	switch l.status {
	case StatusActive:
		if leftOn != "" {
			e.add(l.line, "left_on", "must be empty for an active staff member")
		}
	case StatusLeft:
		d, err := time.ParseInLocation("2006-01-02", leftOn, s.Loc)
		switch {
		case err != nil:
			e.add(l.line, "left_on", "must be a date YYYY-MM-DD when status is left")
		case d.After(s.Clock.Now()):
			e.add(l.line, "left_on", "must not be in the future")
		default:
			t := d.UTC()
			l.leftAt = &t
		}
	default:
		e.add(l.line, "status", "must be active or left")
	}
}

func (s *Service) parsePhone(l *staffLine, v string, e *rowErrors) {
	if v == "" {
		return
	}
	h, err := s.PII.Phone(v)
	if err != nil {
		e.add(l.line, "phone", "must be a phone number")
		return
	}
	l.phoneHash, l.phoneMask = h, pii.MaskPhone(v)
}

// staffByEmployeeNo loads the stored staff members among nos.
func (s *Store) staffByEmployeeNos(ctx context.Context, ext sqlx.ExtContext, nos []string) (map[string]*importedStaff, error) {
	out := make(map[string]*importedStaff, len(nos))
	for _, part := range chunks(nos, batchSize) {
		var rows []importedStaff
		err := selectIn(ctx, ext, &rows, `SELECT id, employee_no, name, unit_id, roles, status, left_at, phone_hash, phone_masked, token_version, created_at
FROM staff WHERE employee_no IN (?)`, part)
		if err != nil {
			return nil, fmt.Errorf("org: import staff: load: %w", err)
		}
		for i := range rows {
			out[rows[i].EmployeeNo] = &rows[i]
		}
	}
	return out, nil
}

// staffPlan is a staff row's final state and what it changes.
type staffPlan struct {
	line   staffLine
	old    *importedStaff
	final  importedStaff
	change ImportChange
}

func (s *Service) importStaff(ctx context.Context, tx *sqlx.Tx, rows []csvRow, dryRun bool) (ImportResult, error) {
	units, err := s.Store.unitIDs(ctx, tx)
	if err != nil {
		return ImportResult{}, err
	}
	var e rowErrors
	lines := s.parseStaffRows(rows, units, &e)
	if err := e.err(); err != nil {
		return ImportResult{}, err
	}
	nos := make([]string, len(lines))
	for i, l := range lines {
		nos[i] = l.no
	}
	old, err := s.Store.staffByEmployeeNos(ctx, tx, nos)
	if err != nil {
		return ImportResult{}, err
	}
	codes := make(map[int64]string, len(units))
	for c, id := range units {
		codes[id] = c
	}
	var res ImportResult
	plans := make([]staffPlan, 0, len(lines))
	for _, l := range lines {
		p := s.planStaff(l, old[l.no], codes)
		res.add(p.change)
		if len(p.change.Actions) > 0 {
			plans = append(plans, p)
		}
	}
	if dryRun || len(plans) == 0 {
		return res, nil
	}
	ids, err := s.Store.applyStaff(ctx, tx, plans, s.Clock.Now())
	for i, p := range plans { // plans and res.Changes list the same rows
		res.Changes[i].ID = ids[p.final.EmployeeNo]
	}
	return res, err
}

// planStaff merges a row over the stored staff member (nil: new).
func (s *Service) planStaff(l staffLine, old *importedStaff, codes map[int64]string) staffPlan {
	p := staffPlan{line: l, old: old, change: ImportChange{Line: l.line, Key: l.no}}
	if old == nil {
		p.final = importedStaff{EmployeeNo: l.no, Name: l.name, UnitID: l.unitID, Roles: auth.FormatRoles(normRoles(l.roles)), Status: string(l.status),
			LeftAt: nullMicros(l.leftAt), PhoneHash: nullString(l.phoneHash), PhoneMasked: nullString(l.phoneMask)}
		p.change.Actions = []string{ActionCreated}
		p.change.Detail = fmt.Sprintf("%s in %s", l.name, l.unitCode)
		return p
	}
	f := *old
	var parts []string
	upd := func(what, from, to string) {
		if from != to {
			parts = append(parts, fmt.Sprintf("%s %s → %s", what, from, to))
		}
	}
	upd("name", f.Name, l.name)
	f.Name = l.name
	if l.roles != nil {
		upd("roles", f.Roles, auth.FormatRoles(l.roles))
		f.Roles = auth.FormatRoles(l.roles)
	}
	if l.phoneHash != "" && l.phoneHash != f.PhoneHash.String {
		parts = append(parts, fmt.Sprintf("phone %s → %s", f.PhoneMasked.String, l.phoneMask))
		f.PhoneHash, f.PhoneMasked = nullString(l.phoneHash), nullString(l.phoneMask)
	}
	if len(parts) > 0 {
		p.change.Actions = append(p.change.Actions, ActionUpdated)
	}
	if f.UnitID != l.unitID {
		p.change.Actions = append(p.change.Actions, ActionMoved)
		parts = append(parts, fmt.Sprintf("unit %s → %s", codes[f.UnitID], l.unitCode))
		f.UnitID = l.unitID
	}
	p.change.Actions, parts = s.planStatus(&f, l, p.change.Actions, parts)
	p.final, p.change.Detail = f, strings.Join(parts, "; ")
	return p
}

// planStatus applies a row's status: leaving ends sessions (token
// version), a new left_on or a return to active is an update.
func (s *Service) planStatus(f *importedStaff, l staffLine, actions, parts []string) ([]string, []string) {
	before := s.dateText(f.LeftAt)
	switch {
	case f.Status == string(StatusActive) && l.status == StatusLeft:
		actions, parts = append(actions, ActionLeft), append(parts, "left on "+s.dateText(nullMicros(l.leftAt)))
		f.TokenVer++
	case f.Status == string(StatusLeft) && l.status == StatusActive:
		parts = append(parts, "status left → active")
		actions = addOnce(actions, ActionUpdated)
	case l.status == StatusLeft && before != s.dateText(nullMicros(l.leftAt)):
		parts = append(parts, "left_on "+before+" → "+s.dateText(nullMicros(l.leftAt)))
		actions = addOnce(actions, ActionUpdated)
	}
	f.Status, f.LeftAt = string(l.status), nullMicros(l.leftAt)
	return actions, parts
}

func addOnce(xs []string, x string) []string {
	for _, y := range xs {
		if y == x {
			return xs
		}
	}
	return append(xs, x)
}

func (s *Service) dateText(v sql.NullInt64) string {
	if !v.Valid {
		return ""
	}
	return db.FromMicros(v.Int64).In(s.Loc).Format("2006-01-02")
}

func nullMicros(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: db.Micros(*t), Valid: true}
}

func nullString(v string) sql.NullString { return sql.NullString{String: v, Valid: v != ""} }

// applyStaff upserts the changed rows in multi-row statements, then opens
// assignments for new and moved staff (closing the moved ones' old ones).
func (s *Store) applyStaff(ctx context.Context, tx *sqlx.Tx, plans []staffPlan, now time.Time) (map[string]int64, error) {
	us := db.Micros(now)
	cols := []string{"name", "unit_id", "roles", "status", "left_at", "phone_hash", "phone_masked", "token_version", "updated_at"}
	for _, part := range chunks(plans, batchSize) {
		args := make([]any, 0, len(part)*11)
		for _, p := range part {
			f := p.final
			created := us
			if p.old != nil {
				created = p.old.CreatedAt
			}
			args = append(args, f.EmployeeNo, f.Name, f.UnitID, f.Roles, f.Status, f.LeftAt, f.PhoneHash, f.PhoneMasked, f.TokenVer, created, us)
		}
		q := `INSERT INTO staff (employee_no, name, unit_id, roles, status, left_at, phone_hash, phone_masked, token_version, created_at, updated_at) VALUES ` +
			valuesList(len(part), 11) + ` ` + s.dialect.Upsert([]string{"employee_no"}, cols)
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return nil, fmt.Errorf("org: import staff: upsert: %w", err)
		}
	}
	return s.importAssignments(ctx, tx, plans, us)
}

// importAssignments returns the ids of every staff member in plans.
func (s *Store) importAssignments(ctx context.Context, tx *sqlx.Tx, plans []staffPlan, us int64) (map[string]int64, error) {
	var placed []staffPlan
	var nos []string
	var moved []int64
	for _, p := range plans {
		if p.old == nil {
			nos = append(nos, p.final.EmployeeNo)
		}
		if p.old == nil || p.old.UnitID != p.final.UnitID {
			placed = append(placed, p)
		}
		if p.old != nil && p.old.UnitID != p.final.UnitID {
			moved = append(moved, p.old.ID)
		}
	}
	for _, part := range chunks(moved, batchSize) {
		q, args, err := sqlx.In(`UPDATE staff_assignments SET valid_to = ? WHERE valid_to = ? AND staff_id IN (?)`, us, OpenEnd, part)
		if err == nil {
			_, err = tx.ExecContext(ctx, q, args...)
		}
		if err != nil {
			return nil, fmt.Errorf("org: import staff: close assignments: %w", err)
		}
	}
	ids, err := s.staffIDs(ctx, tx, nos)
	if err != nil {
		return nil, err
	}
	for _, p := range plans {
		if p.old != nil {
			ids[p.final.EmployeeNo] = p.old.ID
		}
	}
	for _, part := range chunks(placed, batchSize) {
		args := make([]any, 0, len(part)*5)
		for _, p := range part {
			args = append(args, ids[p.final.EmployeeNo], p.final.UnitID, us, OpenEnd, us)
		}
		q := `INSERT INTO staff_assignments (staff_id, unit_id, valid_from, valid_to, created_at) VALUES ` + valuesList(len(part), 5)
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return nil, fmt.Errorf("org: import staff: assignments: %w", err)
		}
	}
	return ids, nil
}

func (s *Store) staffIDs(ctx context.Context, ext sqlx.ExtContext, nos []string) (map[string]int64, error) {
	out := make(map[string]int64, len(nos))
	for _, part := range chunks(nos, batchSize) {
		var rows []struct {
			ID int64  `db:"id"`
			No string `db:"employee_no"`
		}
		if err := selectIn(ctx, ext, &rows, `SELECT id, employee_no FROM staff WHERE employee_no IN (?)`, part); err != nil {
			return nil, fmt.Errorf("org: import staff: ids: %w", err)
		}
		for _, r := range rows {
			out[r.No] = r.ID
		}
	}
	return out, nil
}
