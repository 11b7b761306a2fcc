package org_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"rmref/internal/apperr"
	"rmref/internal/clock"
	"rmref/internal/db"
	"rmref/internal/dbtest"
	"rmref/internal/pii"
	"rmref/org"
)

const unitsCSV = `code,name,kind,parent_code
HQ,总行,hq,
R1,华东区域,region,HQ
R2,华南区域,region,HQ
B1,上海分行,branch,R1
B2,广州分行,branch,R2
SB1,浦东支行,subbranch,B1
T1,浦东一组,team,SB1
T2,广州一组,team,B2
`

const staffCSV = `employee_no,name,unit_code,roles,status,left_on,phone
E1,张三,T1,staff,active,,138 0013 8000
E2,李四,B1,staff;manager,active,,
E3,王五,T2,,active,,+8613900001111
`

func newImportService(t *testing.T, d *db.DB) (*org.Service, *clock.Manual) {
	t.Helper()
	clk := clock.NewManual(t0)
	return org.NewService(d, clk, pii.NewHasher([]byte("k")), time.FixedZone("CST", 8*3600)), clk
}

func mustImport(t *testing.T, svc *org.Service, kind org.ImportKind, csv string, dry bool) org.ImportResult {
	t.Helper()
	res, err := svc.Import(context.Background(), hqAdmin, kind, strings.NewReader(csv), dry)
	if err != nil {
		t.Fatalf("import %s: %v", kind, err)
	}
	return res
}

type counts struct{ Created, Updated, Moved, Left, Unchanged int }

func countsOf(r org.ImportResult) counts {
	return counts{r.Created, r.Updated, r.Moved, r.Left, r.Unchanged}
}

func tableCount(t *testing.T, d *db.DB, table string) int {
	t.Helper()
	var n int
	if err := d.Get(&n, `SELECT COUNT(*) FROM `+table); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestImportDryRunDiffAndIdempotence(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		svc, clk := newImportService(t, d)
		if got := countsOf(mustImport(t, svc, org.ImportUnits, unitsCSV, true)); got != (counts{Created: 8}) {
			t.Errorf("units dry run %+v", got)
		}
		if n := tableCount(t, d, "org_units"); n != 0 {
			t.Fatalf("dry run created %d units", n)
		}
		mustImport(t, svc, org.ImportUnits, unitsCSV, false)
		mustImport(t, svc, org.ImportStaff, staffCSV, false)
		if got := countsOf(mustImport(t, svc, org.ImportStaff, staffCSV, false)); got != (counts{Unchanged: 3}) {
			t.Errorf("re-import %+v, want all unchanged", got)
		}
		clk.Advance(time.Hour)
		next := `employee_no,name,unit_code,roles,status,left_on,phone
E1,张三丰,T2,staff,active,,
E2,李四,B1,staff;manager,left,2026-01-01,
E3,王五,T2,,active,,
E4,赵六,B2,staff,active,,13700001234
`
		res := mustImport(t, svc, org.ImportStaff, next, true)
		want := []org.ImportChange{
			{Line: 2, Key: "E1", Actions: []string{"updated", "moved"}, Detail: "name 张三 → 张三丰; unit T1 → T2"},
			{Line: 3, Key: "E2", Actions: []string{"left"}, Detail: "left on 2026-01-01"},
			{Line: 5, Key: "E4", Actions: []string{"created"}, Detail: "赵六 in B2"},
		}
		if diff := cmp.Diff(want, res.Changes); diff != "" {
			t.Errorf("dry-run diff (-want +got):\n%s", diff)
		}
		if got := countsOf(res); got != (counts{Created: 1, Updated: 1, Moved: 1, Left: 1, Unchanged: 1}) {
			t.Errorf("dry-run counts %+v", got)
		}
		e1, _ := svc.Store.StaffByEmployeeNo(context.Background(), d, hqAdmin, "E1")
		if e1.Name != "张三" {
			t.Fatalf("dry run applied: %+v", e1)
		}
		mustImport(t, svc, org.ImportStaff, next, false)
		e1, _ = svc.Store.StaffByEmployeeNo(context.Background(), d, hqAdmin, "E1")
		e2, _ := svc.Store.StaffByEmployeeNo(context.Background(), d, hqAdmin, "E2")
		if e1.Name != "张三丰" || e1.UnitCode != "T2" || e1.PhoneMasked != "138****8000" {
			t.Errorf("E1 after import: %+v", e1)
		}
		if e2.Status != org.StatusLeft || e2.LeftAt == nil || !e2.LeftAt.Equal(time.Date(2025, 12, 31, 16, 0, 0, 0, time.UTC)) {
			t.Errorf("E2 after import: %+v", e2)
		}
		var ver int
		_ = d.Get(&ver, `SELECT token_version FROM staff WHERE employee_no = 'E2'`)
		if ver != 1 {
			t.Errorf("E2 token_version %d, want 1 (sessions end)", ver)
		}
		ctx := context.Background()
		t1, t2 := unitID(t, svc, "T1"), unitID(t, svc, "T2")
		if c, err := svc.Store.ChainAt(ctx, d, e1.ID, t0.Add(time.Minute)); err != nil || c.TeamID != t1 {
			t.Errorf("chain before the import moved E1: %+v %v, want team %d", c, err, t1)
		}
		if c, err := svc.Store.ChainAt(ctx, d, e1.ID, clk.Now()); err != nil || c.TeamID != t2 || c.SubbranchID != 0 {
			t.Errorf("chain after the import moved E1: %+v %v, want team %d", c, err, t2)
		}
	})
}

func unitID(t *testing.T, svc *org.Service, code string) int64 {
	t.Helper()
	us, _, err := svc.ListUnits(context.Background(), hqAdmin, org.UnitFilter{Code: code})
	if err != nil || len(us) != 1 {
		t.Fatalf("unit %s: %v %v", code, us, err)
	}
	return us[0].ID
}

// rejected asserts the import fails naming exactly the given fields.
func rejected(t *testing.T, svc *org.Service, kind org.ImportKind, csv string, fields ...string) {
	t.Helper()
	_, err := svc.Import(context.Background(), hqAdmin, kind, strings.NewReader(csv), false)
	ae, ok := apperr.As(err)
	if !ok || ae.Kind != apperr.Invalid || ae.Type != "import_rejected" {
		t.Fatalf("import: err %v, want import_rejected", err)
	}
	var got []string
	for _, f := range ae.Fields {
		got = append(got, f.Field)
	}
	if diff := cmp.Diff(fields, got); diff != "" {
		t.Errorf("rejected fields (-want +got):\n%s\n%v", diff, ae.Fields)
	}
}

func TestImportRejectsWholeFile(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		svc, _ := newImportService(t, d)
		mustImport(t, svc, org.ImportUnits, unitsCSV, false)
		mustImport(t, svc, org.ImportStaff, staffCSV, false)
		units, staff, audits := tableCount(t, d, "org_units"), tableCount(t, d, "staff"), tableCount(t, d, "audit_log")
		t.Run("units", func(t *testing.T) {
			rejected(t, svc, org.ImportUnits, `code,name,kind,parent_code
NEW1,新团队,team,R2
R1,华东区域,branch,HQ
X1,无父,team,NOPE
T9,错层,region,B1
HQ2,第二总行,hq,
B1,上海分行,branch,T1
,,galaxy,
`, "rows[3].kind", "rows[4].parent_code", "rows[5].parent_code", "rows[6].kind", "rows[7].parent_code", "rows[8].code", "rows[8].name", "rows[8].kind")
		})
		t.Run("units cycle", func(t *testing.T) {
			rejected(t, svc, org.ImportUnits, `code,name,kind,parent_code
SB1,浦东支行,subbranch,B1
B1,上海分行,branch,SB1
`, "rows[2].parent_code", "rows[3].parent_code")
		})
		t.Run("staff", func(t *testing.T) {
			rejected(t, svc, org.ImportStaff, `employee_no,name,unit_code,roles,status,left_on,phone
E9,新人,T1,staff,active,,
E1,张三,T1,boss,active,,
E2,李四,B1,,left,,
E3,王五,NOPE,,gone,,12
E9,重复,T1,,active,,
`, "rows[3].roles", "rows[4].left_on", "rows[5].unit_code", "rows[5].status", "rows[5].phone", "rows[6].employee_no")
		})
		t.Run("missing column", func(t *testing.T) {
			rejected(t, svc, org.ImportStaff, `employee_no,name
E1,张三
`, "rows[1].unit_code", "rows[1].roles", "rows[1].status", "rows[1].left_on", "rows[1].phone")
		})
		if u, s, a := tableCount(t, d, "org_units"), tableCount(t, d, "staff"), tableCount(t, d, "audit_log"); u != units || s != staff || a != audits {
			t.Errorf("after rejected files: units %d→%d, staff %d→%d, audit %d→%d", units, u, staff, s, audits, a)
		}
	})
}

// TestImportMovesUnitSubtree: a units file that re-parents a branch moves
// its whole subtree and keeps the earlier chain.
func TestImportMovesUnitSubtree(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		svc, clk := newImportService(t, d)
		mustImport(t, svc, org.ImportUnits, unitsCSV, false)
		mustImport(t, svc, org.ImportStaff, staffCSV, false)
		e1, _ := svc.Store.StaffByEmployeeNo(ctx, d, hqAdmin, "E1")
		clk.Advance(time.Hour)
		res := mustImport(t, svc, org.ImportUnits, `code,name,kind,parent_code
B1,上海分行(新),branch,R2
T3,新团队,team,B1
`, false)
		if got := countsOf(res); got != (counts{Created: 1, Updated: 1, Moved: 1}) {
			t.Errorf("counts %+v", got)
		}
		r1, r2 := unitID(t, svc, "R1"), unitID(t, svc, "R2")
		if c, _ := svc.Store.ChainAt(ctx, d, e1.ID, t0.Add(time.Minute)); c.RegionID != r1 {
			t.Errorf("chain before the move: %+v, want region %d", c, r1)
		}
		if c, _ := svc.Store.ChainAt(ctx, d, e1.ID, clk.Now()); c.RegionID != r2 {
			t.Errorf("chain after the move: %+v, want region %d", c, r2)
		}
		t3, err := svc.GetUnit(ctx, hqAdmin, unitID(t, svc, "T3"))
		b1 := unitID(t, svc, "B1")
		if err != nil || !strings.HasPrefix(t3.Path, "/"+itoa(unitID(t, svc, "HQ"))+"/"+itoa(r2)+"/"+itoa(b1)+"/") || t3.Depth != 3 {
			t.Errorf("new team under moved branch: %+v %v", t3, err)
		}
		st, total, err := svc.UnitStaff(ctx, hqAdmin, r2, true, org.StaffFilter{})
		if err != nil || total != 3 || len(st) != 3 {
			t.Errorf("R2 subtree staff after the move: %d %v", total, err)
		}
	})
}
