package leads_test

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"rmref/internal/clock"
	"rmref/internal/db"
	"rmref/internal/dbtest"
	"rmref/leads"
)

// benchEvents returns n events of customers C0…C(n/10): views (a third
// long enough to trigger), calculator uses and application starts.
func benchEvents(prefix string, n int, at time.Time) []leads.EventIn {
	evs := make([]leads.EventIn, n)
	for i := range evs {
		c := fmt.Sprintf("C%05d", i/10)
		e := leads.EventIn{EventID: fmt.Sprintf("%s-%d", prefix, i), CustomerID: c, OccurredAt: at.Add(time.Duration(i) * time.Millisecond)}
		switch i % 3 {
		case 0:
			e.Kind, e.Product, e.DwellSeconds = leads.EventProductView, "FUND1", 20+i%90
		case 1:
			e.Kind, e.Product = leads.EventCalculatorUsed, "LOAN"
		default:
			e.Kind, e.Product = leads.EventApplicationStarted, "CARD1"
		}
		evs[i] = e
	}
	return evs
}

// plainInsert is the baseline: the same events, batched, no evaluation.
func plainInsert(ctx context.Context, d *db.DB, evs []leads.EventIn, now time.Time) error {
	return d.WithTx(ctx, func(tx *sqlx.Tx) error {
		for start := 0; start < len(evs); start += 200 {
			chunk := evs[start:min(start+200, len(evs))]
			var sb strings.Builder
			sb.WriteString(`INSERT INTO lead_events (event_id, customer_id, visitor_id, kind, product, occurred_at, dwell_seconds, attrs, received_at) VALUES `)
			var args []any
			for i, e := range chunk {
				if i > 0 {
					sb.WriteString(", ")
				}
				sb.WriteString("(?, ?, '', ?, ?, ?, ?, '', ?)")
				args = append(args, e.EventID, e.CustomerID, e.Kind, e.Product, db.Micros(e.OccurredAt), e.DwellSeconds, db.Micros(now))
			}
			if _, err := tx.ExecContext(ctx, sb.String(), args...); err != nil {
				return err
			}
		}
		return nil
	})
}

// BenchmarkEventsBatch measures events/s through Ingest (three active
// rules evaluated per event) against a plain batched insert, per dialect.
func BenchmarkEventsBatch(b *testing.B) {
	for _, kind := range dbtest.Kinds() {
		b.Run(kind, func(b *testing.B) {
			d := dbtest.Open(b, kind)
			at := local(2026, 11, 2, 10, 0)
			w := newWorld(b, d, at)
			w.rule(b, "dwell", dwellRule())
			w.rule(b, "calc", leads.Definition{Trigger: leads.Trigger{Type: leads.TriggerCount, EventKind: leads.EventCalculatorUsed, Count: 3, WindowMinutes: 10},
				Routing: leads.Routing{Default: []string{leads.ChannelCallCenter}}, SLAHours: 2})
			w.rule(b, "abandon", leads.Definition{Trigger: leads.Trigger{Type: leads.TriggerAbandon, AbandonMinutes: 30},
				Routing: leads.Routing{Default: []string{leads.ChannelCallCenter}}, SLAHours: 2})
			for i := 0; i < 100; i++ {
				w.customer(b, fmt.Sprintf("C%05d", i), nil)
			}
			const batch = 1000
			var evalDur, plainDur time.Duration
			for i := 0; i < b.N; i++ {
				// Each batch is the next quarter hour of traffic.
				bt := at.Add(time.Duration(i) * 15 * time.Minute)
				w.clk.Set(bt.Add(time.Second))
				evs := benchEvents(fmt.Sprintf("e%d", i), batch, bt)
				t0 := time.Now()
				if _, err := w.svc.Ingest(w.ctx, "bench", evs); err != nil {
					b.Fatal(err)
				}
				evalDur += time.Since(t0)
				t0 = time.Now()
				if err := plainInsert(w.ctx, d, benchEvents(fmt.Sprintf("p%d", i), batch, bt), bt); err != nil {
					b.Fatal(err)
				}
				plainDur += time.Since(t0)
			}
			n := float64(b.N * batch)
			b.ReportMetric(n/evalDur.Seconds(), "events/s-evaluated")
			b.ReportMetric(n/plainDur.Seconds(), "events/s-plain")
			b.ReportMetric(evalDur.Seconds()/plainDur.Seconds(), "cost-ratio")
		})
	}
}

// BenchmarkClaim8x100k inserts 100k offered call-centre leads and lets 8
// claimers (on 4 connection pools) take them 10 at a time until none is
// left; it fails if a lead is handed out twice and reports the claim
// latency percentiles.
func BenchmarkClaim8x100k(b *testing.B) {
	for _, kind := range dbtest.Kinds() {
		b.Run(kind, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				claimRun(b, kind, benchLeads())
			}
		})
	}
}

// benchLeads is the number of leads of the claim benchmark:
// RMREF_BENCH_LEADS, default 100,000.
func benchLeads() int {
	if n, err := strconv.Atoi(os.Getenv("RMREF_BENCH_LEADS")); err == nil && n > 0 {
		return n
	}
	return 100_000
}

func claimRun(b *testing.B, kind string, total int) {
	b.StopTimer()
	path := dbtest.SQLitePath(b)
	var d *db.DB
	var err error
	if kind == "mysql" {
		d = dbtest.OpenMySQL(b)
	} else if d, err = db.Open(context.Background(), path); err == nil {
		_, err = d.Migrate(context.Background())
	}
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	at := local(2026, 11, 2, 10, 0)
	if err := seedLeads(ctx, d, total, at); err != nil {
		b.Fatal(err)
	}
	// SQLite is embedded: one process, one pool. MariaDB: four pools, as
	// four replicas would have.
	hs := []*db.DB{d}
	for range 3 * btoi(kind == "mysql") {
		dsn := path
		if kind == "mysql" {
			dsn = dbtest.MySQLDSN(b)
		}
		h, err := db.Open(ctx, dsn)
		if err != nil {
			b.Fatal(err)
		}
		defer h.Close()
		hs = append(hs, h)
	}
	clk := clock.NewManual(at)
	var mu sync.Mutex
	seen := make(map[int64]bool, total)
	var lat []time.Duration
	var wg sync.WaitGroup
	b.StartTimer()
	start := time.Now()
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			svc := leads.NewService(hs[i%len(hs)], clk)
			var mine []time.Duration
			for {
				t0 := time.Now()
				got, err := svc.Claim(ctx, fmt.Sprintf("c%d", i), leads.ChannelCallCenter, 10)
				mine = append(mine, time.Since(t0))
				if err != nil {
					b.Error(err)
					return
				}
				if len(got) == 0 {
					break
				}
				mu.Lock()
				for _, l := range got {
					if seen[l.ID] {
						b.Errorf("lead %d handed out twice", l.ID)
					}
					seen[l.ID] = true
				}
				mu.Unlock()
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if len(seen) != total {
		b.Fatalf("claimed %d of %d leads", len(seen), total)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(total)/elapsed.Seconds(), "leads/s")
}

// seedLeads inserts offered call-centre leads directly (the benchmark
// measures claiming, not making them).
func seedLeads(ctx context.Context, d *db.DB, n int, at time.Time) error {
	const chunk = 500
	for start := 0; start < n; start += chunk {
		var sb strings.Builder
		sb.WriteString(`INSERT INTO leads (customer_id, product, rule_id, rule_version, priority, status, route, route_pos, channel,
			trigger_event_id, triggered_at, offered_at, sla_hours, cooldown_days, open_key, created_at, updated_at) VALUES `)
		var args []any
		for i := start; i < min(start+chunk, n); i++ {
			if i > start {
				sb.WriteString(", ")
			}
			sb.WriteString("(?, 'P', 1, 1, ?, 'offered', 'remote:call_center', 0, 'remote:call_center', ?, ?, ?, 2, 0, ?, ?, ?)")
			c := fmt.Sprintf("C%06d", i)
			us := db.Micros(at.Add(time.Duration(i) * time.Millisecond))
			args = append(args, c, i%5, "e"+c, us, us, c+"\x1fP", us, us)
		}
		if _, err := d.ExecContext(ctx, sb.String(), args...); err != nil {
			return err
		}
	}
	return nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
