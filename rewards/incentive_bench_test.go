package rewards_test

import (
	"context"
	"io"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"rmref/internal/db"
	"rmref/internal/dbtest"
	"rmref/rewards"
)

// BenchmarkIncentiveOnCredits: the cost incentives add to a conversion
// transaction — one credit through a bounty, a percentage, a monthly
// tier and a stage rule, under day and month caps and a budget.
//
//	go test ./rewards/ -run '^$' -bench IncentiveOnCredits -benchtime 2000x
func BenchmarkIncentiveOnCredits(b *testing.B) {
	for _, kind := range dbtest.Kinds() {
		b.Run(kind, func(b *testing.B) {
			f := newIncFix(b, dbtest.Open(b, kind))
			camp := f.campaign("BENCH", 30)
			f.plan(camp, i64p(1<<50), []rewards.IncentiveCap{{Period: "day", Currency: "cash", Limit: 1 << 40}, {Period: "month", Currency: "cash", Limit: 1 << 40}},
				rewards.IncentiveRule{ID: "b", Kind: "bounty", Currency: "cash", Amount: 5000},
				rewards.IncentiveRule{ID: "p", Kind: "percentage", Currency: "cash", RateBP: 30},
				rewards.IncentiveRule{ID: "t", Kind: "tier", Currency: "points", Basis: "count", Mode: "back_to_first", Period: "month",
					Tiers: []rewards.IncentiveTier{{Threshold: 0, Amount: 10}, {Threshold: 5, Amount: 20}}},
				rewards.IncentiveRule{ID: "s", Kind: "stage", Currency: "points", Threshold: 50, Amount: 500})
			ctx := context.Background()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				s := f.staff[i%3]
				ev := rewards.CreditEvent{CreditID: int64(i + 1), ConversionID: int64(i + 1), CampaignID: camp, StaffID: s, ConversionType: "wealth_purchase",
					Weight: whole, CreditedFen: 1_000_000, OccurredAt: incSH(11, 2+i%28, 10, 0, 0), Chain: rewards.CreditChain{TeamID: f.teamOf[s], BranchID: f.branch}}
				if err := f.d.WithTx(ctx, func(tx *sqlx.Tx) error { return f.svc.OnCredits(ctx, tx, []rewards.CreditEvent{ev}) }); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSettlementMonth: a month's settlement — propose (reserve, net
// per staff member and currency, write lines) and stream the CSV — for
// RMREF_BENCH_STAFF staff (default 200,000) with 5 earnings each (4 cash,
// 1 points: 1,000,000 lines). Data are bulk-loaded with set statements;
// only the settlement is timed. Peak heap is sampled every 10 ms. By
// default a staff member's lines are stored next to each other (ids in
// staff order); RMREF_BENCH_ORDER=time stores them as conversions would
// (ids in time order: every staff member's first line, then every second
// line, …), so that a chunk of staff reads lines spread over the table.
//
//	go test ./rewards/ -run '^$' -bench SettlementMonth -benchtime 1x -timeout 40m
func BenchmarkSettlementMonth(b *testing.B) {
	staff := 200_000
	if v, err := strconv.Atoi(os.Getenv("RMREF_BENCH_STAFF")); err == nil && v > 0 {
		staff = v
	}
	for _, kind := range dbtest.Kinds() {
		b.Run(kind, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				f := newIncFix(b, dbtest.Open(b, kind))
				camp := f.campaign("MONTH", 30)
				loadStaffEarnings(b, f.d, f.teams[0], camp, staff)
				f.clk.Set(incSH(12, 2, 0, 0, 0))
				peak, stop := heapSampler()
				start := time.Now()
				b.StartTimer()
				batch, _, err := f.svc.ProposeSettlement(context.Background(), f.hqA, camp, "2026-11")
				if err != nil {
					b.Fatal(err)
				}
				if err := f.svc.WriteBatchCSV(context.Background(), f.hqA, batch.ID, io.Discard); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				stop()
				b.ReportMetric(time.Since(start).Seconds(), "s/settlement")
				b.ReportMetric(float64(peak.Load())/(1<<20), "MiB-peak-heap")
				if batch.StaffCount != staff {
					b.Fatalf("staff %d, want %d", batch.StaffCount, staff)
				}
			}
		})
	}
}

// heapSampler records the peak heap in use until stop is called.
func heapSampler() (*atomic.Uint64, func()) {
	var peak atomic.Uint64
	done := make(chan struct{})
	go func() {
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	return &peak, func() { close(done) }
}

// loadStaffEarnings bulk-inserts n staff in unit and 5 approved November
// earnings each, with a numbers table and cross joins (portable SQL).
func loadStaffEarnings(b *testing.B, d *db.DB, unit, camp int64, n int) {
	b.Helper()
	ctx := context.Background()
	concat := "'B' || CAST(a.i * 1000 + c.i AS TEXT)"
	if d.Dialect.Name() == "mysql" {
		concat = "CONCAT('B', a.i * 1000 + c.i)"
	}
	t := db.Micros(incSH(11, 10, 0, 0, 0))
	order := " ORDER BY s.id, n.i"
	if os.Getenv("RMREF_BENCH_ORDER") == "time" {
		order = " ORDER BY n.i, s.id"
	}
	stmts := []string{
		`DROP TABLE IF EXISTS bench_nums`,
		`CREATE TABLE bench_nums (i BIGINT NOT NULL PRIMARY KEY)`,
	}
	for _, q := range stmts {
		if _, err := d.ExecContext(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	vals := ""
	for i := 0; i < 1000; i++ {
		if i > 0 {
			vals += ","
		}
		vals += "(" + strconv.Itoa(i) + ")"
	}
	for _, q := range []string{
		`INSERT INTO bench_nums (i) VALUES ` + vals,
		`INSERT INTO staff (employee_no, name, unit_id, roles, status, created_at, updated_at)
SELECT ` + concat + `, '员工', ` + strconv.FormatInt(unit, 10) + `, 'staff', 'active', 0, 0 FROM bench_nums a, bench_nums c WHERE a.i * 1000 + c.i < ` + strconv.Itoa(n),
		`INSERT INTO incentive_earnings (campaign_id, staff_id, plan_id, rule_id, rule_kind, currency, entry, amount, occurred_at, hold_until, created_at)
SELECT ` + strconv.FormatInt(camp, 10) + `, s.id, 1, 'b', 'bounty', CASE WHEN n.i = 4 THEN 'points' ELSE 'cash' END, 'earning', 100 + n.i, ` +
			strconv.FormatInt(t, 10) + `, ` + strconv.FormatInt(t, 10) + `, ` + strconv.FormatInt(t, 10) + `
FROM staff s, bench_nums n WHERE n.i < 5 AND s.name = '员工'` + order,
		`DROP TABLE bench_nums`,
	} {
		if _, err := d.ExecContext(ctx, q); err != nil {
			b.Fatalf("%s: %v", q[:40], err)
		}
	}
}
