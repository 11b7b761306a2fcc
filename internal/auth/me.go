package auth

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/jmoiron/sqlx"

	"rmref/internal/apperr"
	"rmref/internal/db"
)

// UnitRef names an org unit.
type UnitRef struct {
	ID   int64  `json:"id,string" db:"id"`
	Kind string `json:"kind" db:"kind"`
	Code string `json:"code" db:"code"`
	Name string `json:"name" db:"name"`
}

// Me is the signed-in staff member's own record: the phone only masked,
// the unit, the chain of units from the root down to (and including) the
// unit, and the roles.
type Me struct {
	ID          int64     `json:"id,string"`
	EmployeeNo  string    `json:"employee_no"`
	Name        string    `json:"name"`
	Status      string    `json:"status"`
	PhoneMasked string    `json:"phone_masked"`
	Roles       []Role    `json:"roles"`
	Unit        UnitRef   `json:"unit"`
	Chain       []UnitRef `json:"chain"`
}

type meRow struct {
	ID          int64   `db:"id"`
	EmployeeNo  string  `db:"employee_no"`
	Name        string  `db:"name"`
	Status      string  `db:"status"`
	PhoneMasked *string `db:"phone_masked"`
	Roles       string  `db:"roles"`
	UnitID      int64   `db:"unit_id"`
	Path        string  `db:"path"`
}

const qMe = `SELECT s.id, s.employee_no, s.name, s.status, s.phone_masked, s.roles, s.unit_id, u.path
FROM staff s JOIN org_units u ON u.id = s.unit_id WHERE s.id = ?`

// LoadMe returns staff member id's own record.
func LoadMe(ctx context.Context, ext sqlx.ExtContext, id int64) (Me, error) {
	var r meRow
	err := sqlx.GetContext(ctx, ext, &r, qMe, id)
	if errors.Is(err, db.ErrNoRows) {
		return Me{}, apperr.NotFoundf("no such staff member")
	}
	if err != nil {
		return Me{}, fmt.Errorf("auth: load me: %w", err)
	}
	chain, err := unitChain(ctx, ext, r.Path)
	if err != nil {
		return Me{}, err
	}
	m := Me{ID: r.ID, EmployeeNo: r.EmployeeNo, Name: r.Name, Status: r.Status, Roles: ParseRoles(r.Roles), Chain: chain}
	if r.PhoneMasked != nil {
		m.PhoneMasked = *r.PhoneMasked
	}
	if len(chain) > 0 {
		m.Unit = chain[len(chain)-1]
	}
	return m, nil
}

// unitChain reads the units named by a materialised path ("/1/4/9/"),
// root first, by primary key.
func unitChain(ctx context.Context, ext sqlx.ExtContext, path string) ([]UnitRef, error) {
	ids := pathIDs(path)
	if len(ids) == 0 {
		return []UnitRef{}, nil
	}
	q, args, err := sqlx.In(`SELECT id, kind, code, name FROM org_units WHERE id IN (?)`, ids)
	if err != nil {
		return nil, fmt.Errorf("auth: chain: %w", err)
	}
	var units []UnitRef
	if err := sqlx.SelectContext(ctx, ext, &units, q, args...); err != nil {
		return nil, fmt.Errorf("auth: chain: %w", err)
	}
	pos := make(map[int64]int, len(ids))
	for i, id := range ids {
		pos[id] = i
	}
	sort.Slice(units, func(i, j int) bool { return pos[units[i].ID] < pos[units[j].ID] })
	return units, nil
}

func pathIDs(path string) []int64 {
	var ids []int64
	for _, p := range strings.Split(strings.Trim(path, "/"), "/") {
		if id, err := strconv.ParseInt(p, 10, 64); err == nil {
			ids = append(ids, id)
		}
	}
	return ids
}
