package org_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"rmref/internal/auth"
	"rmref/internal/clock"
	"rmref/internal/db"
	"rmref/internal/dbtest"
	"rmref/internal/pii"
	"rmref/org"
)

// Benchmarks for docs/PERFORMANCE.md. Run (SQLite, and MariaDB with the DSN):
//
//	go test ./org/ -run '^$' -bench . -benchtime 5x
//	RMREF_TEST_MYSQL_DSN='root@tcp(127.0.0.1:3306)/test' go test ./org/ -run '^$' -bench . -benchtime 5x

// benchTree is a bank of 10,011 units: 1 hq, 10 regions, 40 branches per
// region, 3 sub-branches per branch, 7 teams per sub-branch.
func benchUnitsCSV() string {
	var b strings.Builder
	b.WriteString("code,name,kind,parent_code\nHQ,总行,hq,\n")
	for r := range 10 {
		fmt.Fprintf(&b, "R%d,区域%d,region,HQ\n", r, r)
		for br := range 40 {
			bc := fmt.Sprintf("B%d-%d", r, br)
			fmt.Fprintf(&b, "%s,分行%s,branch,R%d\n", bc, bc, r)
			for sb := range 3 {
				sc := fmt.Sprintf("%s-%d", bc, sb)
				fmt.Fprintf(&b, "S%s,支行%s,subbranch,%s\n", sc, sc, bc)
				for tm := range 7 {
					fmt.Fprintf(&b, "T%s-%d,团队%s-%d,team,S%s\n", sc, tm, sc, tm, sc)
				}
			}
		}
	}
	return b.String()
}

// benchStaffCSV is n staff rows numbered from first, spread over the teams.
func benchStaffCSV(first, n int) string {
	var b strings.Builder
	b.WriteString("employee_no,name,unit_code,roles,status,left_on,phone\n")
	for i := first; i < first+n; i++ {
		k := i % 8400
		team := fmt.Sprintf("TB%d-%d-%d-%d", k/840, k/21%40, k/7%3, k%7)
		fmt.Fprintf(&b, "E%07d,员工%d,%s,staff,active,,138%08d\n", i, i, team, i)
	}
	return b.String()
}

func benchService(b *testing.B, kind string) (*org.Service, *db.DB) {
	b.Helper()
	d := dbtest.Open(b, kind)
	clk := clock.NewManual(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
	return org.NewService(d, clk, pii.NewHasher([]byte("bench")), time.UTC), d
}

func benchImport(b *testing.B, svc *org.Service, kind org.ImportKind, csv string) org.ImportResult {
	b.Helper()
	res, err := svc.Import(context.Background(), hqAdmin, kind, strings.NewReader(csv), false)
	if err != nil {
		b.Fatalf("import %s: %v", kind, err)
	}
	return res
}

// BenchmarkImportStaff10k imports 10,000 new staff rows per iteration into
// a tree of 10k units.
func BenchmarkImportStaff10k(b *testing.B) {
	for _, kind := range dbtest.Kinds() {
		b.Run(kind, func(b *testing.B) {
			svc, _ := benchService(b, kind)
			benchImport(b, svc, org.ImportUnits, benchUnitsCSV())
			files := make([]string, 0, 16)
			next := 0
			b.ResetTimer()
			for b.Loop() {
				b.StopTimer()
				if len(files) == next {
					files = append(files, benchStaffCSV(next*10000, 10000))
				}
				csv := files[next]
				next++
				b.StartTimer()
				if res := benchImport(b, svc, org.ImportStaff, csv); res.Created != 10000 {
					b.Fatalf("created %d", res.Created)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/10k-rows")
		})
	}
}

// BenchmarkSubtreeStaff lists the first page (50, with the total) of a
// manager's subtree staff at 10k units / 200k staff.
func BenchmarkSubtreeStaff(b *testing.B) {
	for _, kind := range dbtest.Kinds() {
		b.Run(kind, func(b *testing.B) {
			ctx := context.Background()
			svc, d := benchService(b, kind)
			start := time.Now()
			benchImport(b, svc, org.ImportUnits, benchUnitsCSV())
			for i := range 20 {
				benchImport(b, svc, org.ImportStaff, benchStaffCSV(i*10000, 10000))
			}
			if _, err := d.ExecContext(ctx, analyzeStmt(d)); err != nil {
				b.Fatal(err)
			}
			b.Logf("%s: loaded 10,011 units and 200,000 staff in %s", kind, time.Since(start).Round(time.Millisecond))
			for _, sc := range []struct{ name, code string }{{"branch", "B3-17"}, {"region", "R3"}, {"team", "TB3-17-1-4"}} {
				u := mustUnit(b, svc, sc.code)
				mgr := auth.Principal{StaffID: 1, Roles: []auth.Role{auth.RoleManager}, UnitID: u.ID, UnitPath: u.Path}
				b.Run(sc.name, func(b *testing.B) {
					var total int64
					for b.Loop() {
						_, n, err := svc.UnitStaff(ctx, mgr, u.ID, true, org.StaffFilter{Limit: 50})
						if err != nil {
							b.Fatal(err)
						}
						total = n
					}
					b.ReportMetric(float64(total), "staff-in-subtree")
				})
			}
		})
	}
}

func analyzeStmt(d *db.DB) string {
	if d.Dialect.Name() == "sqlite" {
		return "ANALYZE"
	}
	return "ANALYZE TABLE org_units, staff"
}

func mustUnit(b *testing.B, svc *org.Service, code string) org.Unit {
	b.Helper()
	us, _, err := svc.ListUnits(context.Background(), hqAdmin, org.UnitFilter{Code: code})
	if err != nil || len(us) != 1 {
		b.Fatalf("unit %s: %v", code, err)
	}
	return us[0]
}
