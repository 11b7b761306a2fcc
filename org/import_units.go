package org

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"rmref/internal/apperr"
	"rmref/internal/db"
)

// unitLine is one parsed row of a units file.
type unitLine struct {
	line                   int
	code, name, parentCode string
	kind                   Kind
}

// unitPlan is a unit's final state after the import.
type unitPlan struct {
	kind       Kind
	parentCode string
	oldParent  string // parent code before the import
	existing   *Unit
	row        *unitLine
}

func parseUnitRows(rows []csvRow, e *rowErrors) []unitLine {
	seen := map[string]int{}
	out := make([]unitLine, 0, len(rows))
	for _, r := range rows {
		u := unitLine{line: r.line, code: r.cells["code"], name: r.cells["name"], parentCode: r.cells["parent_code"], kind: Kind(strings.ToLower(r.cells["kind"]))}
		var c apperr.Collector
		checkCode(&c, "code", u.code)
		checkName(&c, "name", u.name)
		for _, f := range fieldsOf(c) {
			e.add(u.line, f.Field, f.Message)
		}
		switch {
		case !ValidKind(u.kind):
			e.add(u.line, "kind", "must be one of hq, region, branch, subbranch, team")
		case u.kind == KindHQ && u.parentCode != "":
			e.add(u.line, "parent_code", "must be empty for the hq root")
		case u.kind != KindHQ && u.parentCode == "":
			e.add(u.line, "parent_code", "is required for a "+string(u.kind))
		}
		if first, dup := seen[u.code]; dup && u.code != "" {
			e.add(u.line, "code", fmt.Sprintf("duplicate of line %d", first))
		}
		seen[u.code] = u.line
		out = append(out, u)
	}
	return out
}

func fieldsOf(c apperr.Collector) []apperr.FieldError {
	if ae, ok := apperr.As(c.Err()); ok {
		return ae.Fields
	}
	return nil
}

// allUnits loads every unit by code.
func (s *Store) allUnits(ctx context.Context, ext sqlx.ExtContext) (map[string]*Unit, error) {
	var rows []unitRow
	if err := sqlx.SelectContext(ctx, ext, &rows, `SELECT `+unitCols+` FROM org_units u`); err != nil {
		return nil, fmt.Errorf("org: load units: %w", err)
	}
	out := make(map[string]*Unit, len(rows))
	for _, r := range rows {
		u := r.unit()
		out[u.Code] = &u
	}
	return out, nil
}

// planUnits merges the file over the existing tree and checks the result:
// parents exist, kinds fit, one hq root, no cycles, kinds never change.
func planUnits(lines []unitLine, existing map[string]*Unit, e *rowErrors) map[string]*unitPlan {
	codeOf := map[int64]string{}
	plan := map[string]*unitPlan{}
	for code, u := range existing {
		codeOf[u.ID] = code
	}
	for code, u := range existing {
		plan[code] = &unitPlan{kind: u.Kind, parentCode: codeOf[u.ParentID], oldParent: codeOf[u.ParentID], existing: u}
	}
	for i := range lines {
		l := &lines[i]
		p, ok := plan[l.code]
		if !ok {
			p = &unitPlan{}
			plan[l.code] = p
		}
		if p.existing != nil && p.existing.Kind != l.kind && ValidKind(l.kind) {
			e.add(l.line, "kind", "cannot change: the unit is a "+string(p.existing.Kind))
		}
		p.kind, p.parentCode, p.row = l.kind, l.parentCode, l
	}
	checkPlan(plan, e)
	return plan
}

func checkPlan(plan map[string]*unitPlan, e *rowErrors) {
	var roots []string
	for code, p := range plan {
		if p.kind == KindHQ {
			roots = append(roots, code)
		}
		if p.row == nil || p.row.parentCode == "" {
			continue
		}
		parent, ok := plan[p.parentCode]
		switch {
		case !ok:
			e.add(p.row.line, "parent_code", "no unit with code "+p.parentCode+" in the file or the tree")
		case ValidKind(p.kind) && !CanParent(parent.kind, p.kind):
			e.add(p.row.line, "parent_code", "a "+string(p.kind)+" must sit under one of: "+parentKindsText(p.kind)+" ("+p.parentCode+" is a "+string(parent.kind)+")")
		case inCycle(plan, code):
			e.add(p.row.line, "parent_code", "makes a cycle: "+code+" would sit under itself")
		}
	}
	if len(roots) > 1 {
		slices.Sort(roots)
		for _, code := range roots {
			if p := plan[code]; p.row != nil && p.existing == nil {
				e.add(p.row.line, "kind", "the tree has one hq root; hq units: "+strings.Join(roots, ", "))
			}
		}
	}
}

func inCycle(plan map[string]*unitPlan, code string) bool {
	seen := map[string]bool{}
	for c := code; c != ""; c = plan[c].parentCode {
		if seen[c] || plan[c] == nil {
			return seen[c]
		}
		seen[c] = true
	}
	return false
}

// depthOf returns a unit's depth in the planned tree.
func depthOf(plan map[string]*unitPlan, code string) int {
	d := 0
	for c := plan[code].parentCode; c != ""; c = plan[c].parentCode {
		d++
	}
	return d
}

// diffUnits lists the changes, in file order.
func diffUnits(lines []unitLine, plan map[string]*unitPlan, res *ImportResult) {
	for _, l := range lines {
		p := plan[l.code]
		c := ImportChange{Line: l.line, Key: l.code}
		switch ex := p.existing; {
		case ex == nil:
			c.Actions = []string{ActionCreated}
			c.Detail = fmt.Sprintf("%s %s under %s", l.kind, l.name, orRoot(l.parentCode))
		default:
			var parts []string
			if ex.Name != l.name {
				c.Actions = append(c.Actions, ActionUpdated)
				parts = append(parts, fmt.Sprintf("name %s → %s", ex.Name, l.name))
			}
			if old := p.oldParent; old != l.parentCode {
				c.Actions = append(c.Actions, ActionMoved)
				parts = append(parts, fmt.Sprintf("parent %s → %s", orRoot(old), orRoot(l.parentCode)))
			}
			c.Detail = strings.Join(parts, "; ")
		}
		res.add(c)
	}
}

func orRoot(code string) string {
	if code == "" {
		return "(root)"
	}
	return code
}

func (s *Service) importUnits(ctx context.Context, tx *sqlx.Tx, rows []csvRow, dryRun bool) (ImportResult, error) {
	var e rowErrors
	lines := parseUnitRows(rows, &e)
	existing, err := s.Store.allUnits(ctx, tx)
	if err != nil {
		return ImportResult{}, err
	}
	plan := planUnits(lines, existing, &e)
	if err := e.err(); err != nil {
		return ImportResult{}, err
	}
	var res ImportResult
	diffUnits(lines, plan, &res)
	if dryRun || len(res.Changes) == 0 {
		return res, nil
	}
	ids, err := s.applyUnits(ctx, tx, lines, plan)
	for i := range res.Changes {
		res.Changes[i].ID = ids[res.Changes[i].Key]
	}
	return res, err
}

// applyUnits creates new units level by level in bulk, then renames and
// moves existing ones (moves shallowest first, so every parent already sits
// where the file says).
func (s *Service) applyUnits(ctx context.Context, tx *sqlx.Tx, lines []unitLine, plan map[string]*unitPlan) (map[string]int64, error) {
	now := s.Clock.Now()
	byDepth := map[int][]unitLine{}
	for _, l := range lines {
		if plan[l.code].existing == nil {
			d := depthOf(plan, l.code)
			byDepth[d] = append(byDepth[d], l)
		}
	}
	ids, err := s.Store.unitIDs(ctx, tx)
	if err != nil {
		return nil, err
	}
	for d := 0; d <= len(plan); d++ {
		if len(byDepth[d]) == 0 {
			continue
		}
		if err := s.Store.bulkInsertUnits(ctx, tx, byDepth[d], ids, now); err != nil {
			return nil, err
		}
	}
	return ids, s.applyUnitChanges(ctx, tx, lines, plan, ids, now)
}

func (s *Service) applyUnitChanges(ctx context.Context, tx *sqlx.Tx, lines []unitLine, plan map[string]*unitPlan, ids map[string]int64, now time.Time) error {
	var moves []unitLine
	for _, l := range lines {
		p := plan[l.code]
		if p.existing == nil {
			continue
		}
		if p.existing.Name != l.name {
			if err := s.Store.renameUnit(ctx, tx, p.existing.ID, l.name, now); err != nil {
				return err
			}
		}
		if p.oldParent != l.parentCode {
			moves = append(moves, l)
		}
	}
	slices.SortStableFunc(moves, func(a, b unitLine) int { return depthOf(plan, a.code) - depthOf(plan, b.code) })
	for _, l := range moves {
		u, err := s.Store.unitByID(ctx, tx, ids[l.code])
		if err != nil {
			return err
		}
		parent, err := s.Store.unitByID(ctx, tx, ids[l.parentCode])
		if err != nil {
			return err
		}
		if _, err := s.Store.moveUnit(ctx, tx, u, parent, now, now); err != nil {
			return err
		}
	}
	return nil
}

// unitIDs maps every unit's code to its id.
func (s *Store) unitIDs(ctx context.Context, ext sqlx.ExtContext) (map[string]int64, error) {
	var rows []struct {
		ID   int64  `db:"id"`
		Code string `db:"code"`
	}
	if err := sqlx.SelectContext(ctx, ext, &rows, `SELECT id, code FROM org_units`); err != nil {
		return nil, fmt.Errorf("org: unit ids: %w", err)
	}
	out := make(map[string]int64, len(rows))
	for _, r := range rows {
		out[r.Code] = r.ID
	}
	return out, nil
}

// bulkInsertUnits inserts units whose parents all exist (ids has them),
// then sets their paths and opens their history, in multi-row statements.
func (s *Store) bulkInsertUnits(ctx context.Context, tx *sqlx.Tx, lines []unitLine, ids map[string]int64, now time.Time) error {
	us := db.Micros(now)
	parents := map[int64]Unit{}
	for _, part := range chunks(lines, batchSize) {
		args := make([]any, 0, len(part)*7)
		for _, l := range part {
			var pid any
			if l.parentCode != "" {
				pid = ids[l.parentCode]
			}
			args = append(args, string(l.kind), l.code, l.name, pid, us, us)
		}
		q := `INSERT INTO org_units (kind, code, name, parent_id, path, depth, created_at, updated_at) VALUES ` +
			strings.ReplaceAll(valuesList(len(part), 6), "?, ?, ?, ?, ?, ?", "?, ?, ?, ?, '', 0, ?, ?")
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("org: import units: insert: %w", err)
		}
	}
	codes := make([]string, len(lines))
	for i, l := range lines {
		codes[i] = l.code
	}
	if err := s.fillIDs(ctx, tx, codes, ids); err != nil {
		return err
	}
	return s.placeUnits(ctx, tx, lines, ids, parents, us)
}

func (s *Store) fillIDs(ctx context.Context, ext sqlx.ExtContext, codes []string, ids map[string]int64) error {
	for _, part := range chunks(codes, batchSize) {
		var rows []struct {
			ID   int64  `db:"id"`
			Code string `db:"code"`
		}
		if err := selectIn(ctx, ext, &rows, `SELECT id, code FROM org_units WHERE code IN (?)`, part); err != nil {
			return fmt.Errorf("org: import units: ids: %w", err)
		}
		for _, r := range rows {
			ids[r.Code] = r.ID
		}
	}
	return nil
}

// placeUnits sets path and depth of freshly inserted units and opens their
// history rows.
func (s *Store) placeUnits(ctx context.Context, tx *sqlx.Tx, lines []unitLine, ids map[string]int64, parents map[int64]Unit, us int64) error {
	for _, part := range chunks(lines, batchSize) {
		upd := make([]any, 0, len(part)*9)
		hist := make([]any, 0, len(part)*6)
		for _, l := range part {
			parent := Unit{Depth: -1}
			if l.parentCode != "" {
				var err error
				if parent, err = s.cachedUnit(ctx, tx, parents, ids[l.parentCode]); err != nil {
					return err
				}
			}
			id := ids[l.code]
			path := childPath(parent.Path, id)
			var pid any
			if parent.ID > 0 {
				pid = parent.ID
			}
			upd = append(upd, id, string(l.kind), l.code, l.name, pid, path, parent.Depth+1, us, us)
			hist = append(hist, id, pid, path, us, OpenEnd, us)
		}
		q := `INSERT INTO org_units (id, kind, code, name, parent_id, path, depth, created_at, updated_at) VALUES ` +
			valuesList(len(part), 9) + ` ` + s.dialect.Upsert([]string{"id"}, []string{"path", "depth"})
		if _, err := tx.ExecContext(ctx, q, upd...); err != nil {
			return fmt.Errorf("org: import units: paths: %w", err)
		}
		q = `INSERT INTO unit_paths (unit_id, parent_id, path, valid_from, valid_to, created_at) VALUES ` + valuesList(len(part), 6)
		if _, err := tx.ExecContext(ctx, q, hist...); err != nil {
			return fmt.Errorf("org: import units: history: %w", err)
		}
	}
	return nil
}

func (s *Store) cachedUnit(ctx context.Context, ext sqlx.ExtContext, cache map[int64]Unit, id int64) (Unit, error) {
	if u, ok := cache[id]; ok {
		return u, nil
	}
	u, err := s.unitByID(ctx, ext, id)
	if err == nil {
		cache[id] = u
	}
	return u, err
}
