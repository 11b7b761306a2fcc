package referral_test

import (
	"context"
	"testing"

	"rmref/internal/dbtest"
	"rmref/referral"
)

// BenchmarkClick measures durable click recording (group commit) with 64
// concurrent clickers on each database kind: ns/op is per click; the
// commits/op metric shows how many clicks share a commit.
func BenchmarkClick(b *testing.B) {
	for _, kind := range dbtest.Kinds() {
		b.Run(kind, func(b *testing.B) {
			d := dbtest.Open(b, kind)
			w := newBenchWorld(b, d)
			code, err := w.svc.CodeFor(context.Background(), w.staff, 7)
			if err != nil {
				b.Fatal(err)
			}
			before := w.svc.Writer().Commits()
			b.SetParallelism(32) // × GOMAXPROCS goroutines
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					_, err := w.svc.Click(context.Background(), referral.ClickRequest{Code: code.Code, Channel: "wechat_friend",
						Method: "GET", UserAgent: browser, IP: "203.0.113.9"})
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(w.svc.Writer().Commits()-before)/float64(b.N), "commits/op")
		})
	}
}
