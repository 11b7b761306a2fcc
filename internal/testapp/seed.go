package testapp

import (
	"context"
	"math"
	"strconv"

	"rmref/internal/auth"
	"rmref/internal/db"
)

// Seeder creates org units and staff directly in a database, for tests of
// any package. It keeps the materialised path and the effective-dated
// history consistent with what the org store writes.
type Seeder struct {
	DB  *db.DB
	Now int64 // created_at / valid_from, microseconds (0: the epoch)
	t   interface {
		Helper()
		Fatalf(string, ...any)
	}
}

// Seed returns a seeder on the app's database.
func (a *App) Seed() *Seeder { return &Seeder{DB: a.DB, t: a.t} }

// NewSeeder returns a seeder on d.
func NewSeeder(t interface {
	Helper()
	Fatalf(string, ...any)
}, d *db.DB) *Seeder {
	return &Seeder{DB: d, t: t}
}

// Unit creates an org unit under parent (0 for the root) and returns its id.
func (s *Seeder) Unit(kind, code, name string, parent int64) int64 {
	s.t.Helper()
	ctx := context.Background()
	parentPath, depth := "/", 0
	if parent > 0 {
		if err := s.DB.GetContext(ctx, &parentPath, `SELECT path FROM org_units WHERE id = ?`, parent); err != nil {
			s.t.Fatalf("seed unit %s: parent: %v", code, err)
		}
		if err := s.DB.GetContext(ctx, &depth, `SELECT depth FROM org_units WHERE id = ?`, parent); err != nil {
			s.t.Fatalf("seed unit %s: parent: %v", code, err)
		}
		depth++
	}
	var pid any
	if parent > 0 {
		pid = parent
	}
	res, err := s.DB.ExecContext(ctx, `INSERT INTO org_units (kind, code, name, parent_id, path, depth, created_at, updated_at) VALUES (?, ?, ?, ?, '', ?, ?, ?)`,
		kind, code, name, pid, depth, s.Now, s.Now)
	if err != nil {
		s.t.Fatalf("seed unit %s: %v", code, err)
	}
	id, _ := res.LastInsertId()
	path := parentPath + strconv.FormatInt(id, 10) + "/"
	if _, err := s.DB.ExecContext(ctx, `UPDATE org_units SET path = ? WHERE id = ?`, path, id); err != nil {
		s.t.Fatalf("seed unit %s: %v", code, err)
	}
	if _, err := s.DB.ExecContext(ctx, `INSERT INTO unit_paths (unit_id, parent_id, path, valid_from, valid_to, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		id, pid, path, s.Now, openEnd, s.Now); err != nil {
		s.t.Fatalf("seed unit %s: history: %v", code, err)
	}
	return id
}

// Staff creates an active staff member in unit with roles (default staff).
func (s *Seeder) Staff(employeeNo, name string, unit int64, roles ...auth.Role) int64 {
	s.t.Helper()
	if len(roles) == 0 {
		roles = []auth.Role{auth.RoleStaff}
	}
	res, err := s.DB.ExecContext(context.Background(),
		`INSERT INTO staff (employee_no, name, unit_id, roles, status, created_at, updated_at) VALUES (?, ?, ?, ?, 'active', ?, ?)`,
		employeeNo, name, unit, auth.FormatRoles(roles), s.Now, s.Now)
	if err != nil {
		s.t.Fatalf("seed staff %s: %v", employeeNo, err)
	}
	id, _ := res.LastInsertId()
	if _, err := s.DB.ExecContext(context.Background(), `INSERT INTO staff_assignments (staff_id, unit_id, valid_from, valid_to, created_at) VALUES (?, ?, ?, ?, ?)`,
		id, unit, s.Now, openEnd, s.Now); err != nil {
		s.t.Fatalf("seed staff %s: history: %v", employeeNo, err)
	}
	return id
}

// openEnd is the valid_to of history rows that still hold (org.OpenEnd).
const openEnd int64 = math.MaxInt64
