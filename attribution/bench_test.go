package attribution_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"rmref/attribution"
	"rmref/campaign"
	"rmref/customer"
	"rmref/internal/auth"
	"rmref/internal/db"
	"rmref/internal/dbtest"
	"rmref/internal/pii"
)

// benchWorld is a bank of 100 staff and 1000 customers with 1–6 touches
// each, and a real campaign (linear model) from the campaign package.
func benchWorld(b *testing.B, kind string) (*world, func(i int) attribution.ConversionInput) {
	b.Helper()
	d := dbtest.Open(b, kind)
	w := newWorldTB(b, d, attribution.Settings{Model: attribution.Linear})
	ctx := context.Background()
	admin := auth.Principal{StaffID: w.h1, EmployeeNo: "H1", Roles: []auth.Role{auth.RoleHQAdmin}}
	cs := campaign.NewService(d, w.clk, []string{"m.example-bank.cn"})
	code, name, landing := "bench", "bench", "https://m.example-bank.cn/x"
	start, end := t0.AddDate(0, 0, -40), t0.AddDate(0, 1, 0)
	units, convs, model := []int64{w.region}, []campaign.ConversionRule{{Type: "account_opened"}}, campaign.ModelLinear
	c, err := cs.Create(ctx, admin, campaign.Patch{Code: &code, Name: &name, StartAt: &start, EndAt: &end, LandingURL: &landing, UnitIDs: &units, Conversions: &convs, Model: &model})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := cs.Transition(ctx, admin, c.ID, campaign.StatusActive); err != nil {
		b.Fatal(err)
	}
	w.svc = attribution.NewBankService(d, w.clk, pii.NewHasher([]byte("k")), []byte("k"))
	emps := []string{"A", "B", "C"}
	for i := range 300 {
		for k := range 1 + i%6 {
			at := t0.Add(-time.Duration(k+1) * 3 * time.Hour)
			_, _, err := w.svc.RecordTouch(ctx, attribution.TouchInput{Source: "bench", ExternalID: fmt.Sprintf("t%d-%d", i, k),
				Customer: customer.Identifiers{CustomerID: fmt.Sprintf("C%d", i)}, StaffEmployeeNo: emps[(i+k)%3], Channel: "remote", Kind: "call", OccurredAt: &at}, "bench")
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	return w, func(i int) attribution.ConversionInput {
		return conv(fmt.Sprintf("b%d-%d", time.Now().UnixNano(), i), int64(1000+i), t0, customer.Identifiers{CustomerID: fmt.Sprintf("C%d", i%300)})
	}
}

// BenchmarkRecord ingests conversions through the service, with
// attribution (credits, rollups, audit) in the same transaction.
func BenchmarkRecord(b *testing.B) {
	for _, kind := range dbtest.Kinds() {
		b.Run(kind, func(b *testing.B) {
			w, next := benchWorld(b, kind)
			b.ResetTimer()
			for i := range b.N {
				if _, _, err := w.svc.Record(context.Background(), next(i), "bench"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPlainInsert inserts the same conversion rows without
// attribution: one INSERT per transaction, the floor Record is measured
// against.
func BenchmarkPlainInsert(b *testing.B) {
	for _, kind := range dbtest.Kinds() {
		b.Run(kind, func(b *testing.B) {
			d := dbtest.Open(b, kind)
			b.ResetTimer()
			for i := range b.N {
				err := d.WithTx(context.Background(), func(tx *sqlx.Tx) error {
					_, err := tx.ExecContext(context.Background(), `INSERT INTO conversions (source, external_id, payload_hash, type, identifier_id, customer_no, amount_fen,
						product_code, channel, sub_channel, invitation_code, referral_token, occurred_at, created_at) VALUES ('core', ?, 'h', 'account_opened', 1, 'C', ?, '', 'offline', '', '', '', ?, ?)`,
						fmt.Sprintf("p%d-%d", time.Now().UnixNano(), i), 1000+i, db.Micros(t0), db.Micros(t0))
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRecordConcurrent ingests conversions from 16 goroutines (the
// HTTP tier's concurrency) and reports conversions/s and the p50/p99
// latency of one conversion.
func BenchmarkRecordConcurrent(b *testing.B) {
	for _, kind := range dbtest.Kinds() {
		b.Run(kind, func(b *testing.B) {
			w, next := benchWorld(b, kind)
			var mu sync.Mutex
			var lat []time.Duration
			var n atomic.Int64
			b.SetParallelism(8) // × GOMAXPROCS (2) = 16 goroutines
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := int(n.Add(1))
					t := time.Now()
					if _, _, err := w.svc.Record(context.Background(), next(i), "bench"); err != nil {
						b.Error(err)
						return
					}
					d := time.Since(t)
					mu.Lock()
					lat = append(lat, d)
					mu.Unlock()
				}
			})
			el := time.Since(start)
			slices.Sort(lat)
			if len(lat) > 0 {
				b.ReportMetric(float64(len(lat))/el.Seconds(), "conv/s")
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50_ms")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99_ms")
			}
		})
	}
}

// BenchmarkRecordVsPlain alternates one conversion through Record and one
// plain insert of a conversion row (one transaction each) in the same
// loop, so that both see the same moment of a shared machine (its disk
// sync latency moves both), and reports each one's mean and their ratio.
func BenchmarkRecordVsPlain(b *testing.B) {
	for _, kind := range dbtest.Kinds() {
		b.Run(kind, func(b *testing.B) {
			w, next := benchWorld(b, kind)
			ctx := context.Background()
			var rec, plain time.Duration
			b.ResetTimer()
			for i := range b.N {
				t := time.Now()
				if _, _, err := w.svc.Record(ctx, next(i), "bench"); err != nil {
					b.Fatal(err)
				}
				rec += time.Since(t)
				t = time.Now()
				err := w.d.WithTx(ctx, func(tx *sqlx.Tx) error {
					_, err := tx.ExecContext(ctx, `INSERT INTO conversions (source, external_id, payload_hash, type, identifier_id, customer_no, amount_fen,
						product_code, channel, sub_channel, invitation_code, referral_token, occurred_at, created_at) VALUES ('plain', ?, 'h', 'account_opened', 0, 'C', ?, '', 'offline', '', '', '', ?, ?)`,
						fmt.Sprintf("p%d-%d", time.Now().UnixNano(), i), 1000+i, db.Micros(t0), db.Micros(t0))
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
				plain += time.Since(t)
			}
			b.ReportMetric(float64(rec.Microseconds())/1000/float64(b.N), "record_ms")
			b.ReportMetric(float64(plain.Microseconds())/1000/float64(b.N), "plain_ms")
			b.ReportMetric(float64(rec)/float64(plain), "ratio")
		})
	}
}
