package org

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/jmoiron/sqlx"

	"rmref/internal/apperr"
	"rmref/internal/audit"
	"rmref/internal/auth"
)

// ImportKind names what an HR file holds.
type ImportKind string

// The HR import kinds.
const (
	ImportUnits ImportKind = "units"
	ImportStaff ImportKind = "staff"
)

// Import actions, as shown in a diff.
const (
	ActionCreated = "created"
	ActionUpdated = "updated"
	ActionMoved   = "moved"
	ActionLeft    = "left"
)

// The columns of each HR file, in any order, matched case-insensitively.
var (
	unitColumns  = []string{"code", "name", "kind", "parent_code"}
	staffColumns = []string{"employee_no", "name", "unit_code", "roles", "status", "left_on", "phone"}
)

// ImportChange is one row that changes something.
type ImportChange struct {
	ID      int64    `json:"id,string,omitempty"` // set once applied
	Line    int      `json:"line"`
	Key     string   `json:"key"`     // unit code or employee number
	Actions []string `json:"actions"` // created, updated, moved, left
	Detail  string   `json:"detail"`  // human-readable: what changes
}

// ImportResult is the diff of an import (what was, or with DryRun would
// be, applied).
type ImportResult struct {
	Kind      ImportKind     `json:"kind"`
	DryRun    bool           `json:"dry_run"`
	Rows      int            `json:"rows"`
	Created   int            `json:"created"`
	Updated   int            `json:"updated"`
	Moved     int            `json:"moved"`
	Left      int            `json:"left"`
	Unchanged int            `json:"unchanged"`
	Changes   []ImportChange `json:"changes"`
}

func (r *ImportResult) add(c ImportChange) {
	if len(c.Actions) == 0 {
		r.Unchanged++
		return
	}
	for _, a := range c.Actions {
		switch a {
		case ActionCreated:
			r.Created++
		case ActionUpdated:
			r.Updated++
		case ActionMoved:
			r.Moved++
		case ActionLeft:
			r.Left++
		}
	}
	r.Changes = append(r.Changes, c)
}

// rowErrors collects bad cells as "rows[LINE].COLUMN" field errors, in
// line order: the whole file is rejected when any is found.
type rowErrors struct{ errs []rowError }

type rowError struct {
	line int
	f    apperr.FieldError
}

func (e *rowErrors) add(line int, col, msg string) {
	e.errs = append(e.errs, rowError{line, apperr.FieldError{Field: "rows[" + strconv.Itoa(line) + "]." + col, Message: msg}})
}

func (e *rowErrors) err() error {
	if len(e.errs) == 0 {
		return nil
	}
	slices.SortStableFunc(e.errs, func(a, b rowError) int { return a.line - b.line })
	fs := make([]apperr.FieldError, len(e.errs))
	for i, r := range e.errs {
		fs[i] = r.f
	}
	return &apperr.Error{Kind: apperr.Invalid, Type: "import_rejected", Detail: "the file was rejected; nothing was applied", Fields: fs}
}

// csvRow is one data row with its 1-based line number.
type csvRow struct {
	line  int
	cells map[string]string
}

// readCSV reads a header row and the data rows; every column in cols must
// appear in the header.
func readCSV(r io.Reader, cols []string) ([]csvRow, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("org: read csv: %w", err)
	}
	cr := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))))
	cr.FieldsPerRecord = -1
	head, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, apperr.Field("rows[1]", "the file is empty: a header row is required")
	}
	if err != nil {
		return nil, csvErr(err)
	}
	idx, err := headerIndex(head, cols)
	if err != nil {
		return nil, err
	}
	return readRows(cr, idx)
}

func headerIndex(head, cols []string) (map[string]int, error) {
	idx := map[string]int{}
	for i, h := range head {
		idx[strings.ToLower(strings.TrimSpace(h))] = i
	}
	var e rowErrors
	for _, c := range cols {
		if _, ok := idx[c]; !ok {
			e.add(1, c, "missing column (the header must name: "+strings.Join(cols, ",")+")")
		}
	}
	return idx, e.err()
}

func readRows(cr *csv.Reader, idx map[string]int) ([]csvRow, error) {
	var rows []csvRow
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			return nil, csvErr(err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		cells := make(map[string]string, len(idx))
		for name, i := range idx {
			if i < len(rec) {
				cells[name] = strings.TrimSpace(rec[i])
			}
		}
		rows = append(rows, csvRow{line: line, cells: cells})
	}
}

func csvErr(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		var e rowErrors
		e.add(pe.Line, "csv", pe.Err.Error())
		return e.err()
	}
	return fmt.Errorf("org: read csv: %w", err)
}

// Import applies (or with dryRun only diffs) an HR file. Any bad row
// rejects the whole file with nothing applied; the import runs in one
// transaction and is audited. Only hq_admin may import.
func (s *Service) Import(ctx context.Context, p auth.Principal, kind ImportKind, r io.Reader, dryRun bool) (ImportResult, error) {
	if !p.WritesAll() {
		return ImportResult{}, apperr.Forbiddenf("only hq_admin may import HR files")
	}
	var cols []string
	switch kind {
	case ImportUnits:
		cols = unitColumns
	case ImportStaff:
		cols = staffColumns
	default:
		return ImportResult{}, apperr.Field("kind", "must be units or staff")
	}
	rows, err := readCSV(r, cols)
	if err != nil {
		return ImportResult{}, err
	}
	var res ImportResult
	err = s.DB.WithTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		if kind == ImportUnits {
			res, err = s.importUnits(ctx, tx, rows, dryRun)
		} else {
			res, err = s.importStaff(ctx, tx, rows, dryRun)
		}
		res.Kind, res.DryRun, res.Rows = kind, dryRun, len(rows)
		if err != nil || dryRun {
			return err
		}
		return s.auditImport(ctx, tx, p, res)
	})
	res.Kind, res.DryRun, res.Rows = kind, dryRun, len(rows)
	if res.Changes == nil {
		res.Changes = []ImportChange{}
	}
	return res, err
}

// auditImport records the import's counts and one entry per unit or staff
// member it created, moved, changed or let leave.
func (s *Service) auditImport(ctx context.Context, ext sqlx.ExtContext, p auth.Principal, res ImportResult) error {
	now := s.Clock.Now()
	entity, key := "staff", "employee_no"
	if res.Kind == ImportUnits {
		entity, key = "org_unit", "code"
	}
	es := make([]audit.Entry, 0, len(res.Changes)+1)
	es = append(es, audit.Entry{At: now, Actor: p.Actor(), Action: "org.import." + string(res.Kind),
		EntityType: "org_import", EntityID: string(res.Kind), Detail: map[string]int{"rows": res.Rows, "created": res.Created,
			"updated": res.Updated, "moved": res.Moved, "left": res.Left, "unchanged": res.Unchanged}})
	for _, c := range res.Changes {
		es = append(es, audit.Entry{At: now, Actor: p.Actor(), Action: entity + ".import." + strings.Join(c.Actions, "+"),
			EntityType: entity, EntityID: strconv.FormatInt(c.ID, 10), Detail: map[string]any{key: c.Key, "line": c.Line, "change": c.Detail}})
	}
	return audit.RecordMany(ctx, ext, es)
}

// valuesList returns "(?, ?, …), (?, ?, …)" for n rows of w columns.
func valuesList(n, w int) string {
	one := "(" + strings.TrimSuffix(strings.Repeat("?, ", w), ", ") + ")"
	return strings.TrimSuffix(strings.Repeat(one+", ", n), ", ")
}

// batchSize is the number of rows per multi-row statement.
const batchSize = 500
