package rewards_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"rmref/internal/clock"
	"rmref/internal/dbtest"
	"rmref/rewards"
)

// yearInput is a year of the coffee programme for one cardholder, in
// memory: approval, 159 purchases (3 a week), 36 exchanges and 89 claims.
func yearInput() rewards.PerkInput {
	rules := rewards.PerkRules{ProgrammeID: 1, Versions: []rewards.PerkVersion{{Version: 1, EffectiveAt: sh(2025, 12, 1, 0, 0, 0),
		Config: rewards.CoffeeTemplate(product, "2026-01-01", "2026-12-31")}}}
	yes := true
	es := []rewards.CardEvent{{EventID: "ap", Kind: rewards.EventCardApproved, CustomerID: "c", CardID: "k", OccurredAt: sh(2026, 1, 1, 8, 0, 0),
		Product: product, Tier: "gold", Primary: &yes, NewCustomer: &yes}}
	monday := sh(2025, 12, 29, 0, 0, 0)
	for w := 0; w < 53; w++ {
		for d := 1; d <= 3; d++ {
			at := monday.AddDate(0, 0, 7*w+d).Add(10 * time.Hour)
			if w == 0 {
				at = sh(2026, 1, d, 10, 0, 0)
			}
			es = append(es, rewards.CardEvent{EventID: fmt.Sprintf("p%d-%d", w, d), Kind: rewards.EventPurchase, CustomerID: "c", CardID: "k", OccurredAt: at, AmountFen: 9900})
		}
	}
	in := rewards.PerkInput{Rules: rules, CustomerID: "c", Events: es, At: sh(2026, 12, 31, 0, 0, 0)}
	l := rewards.EvaluatePerks(in)
	for _, g := range l.Grants {
		in.Claims = append(in.Claims, rewards.PerkClaim{Key: g.Key, ClaimedAt: g.QualifiedAt.Add(time.Hour), Terms: g.PerkGrantTerms})
	}
	return in
}

// BenchmarkEvaluatePerksYear measures deriving one cardholder's ledger
// from a full year of events and claims (what every perks?at= read and
// every claim does per programme).
func BenchmarkEvaluatePerksYear(b *testing.B) {
	in := yearInput()
	b.ReportAllocs()
	for b.Loop() {
		if l := rewards.EvaluatePerks(in); len(l.Grants) != 53 {
			b.Fatalf("grants = %d", len(l.Grants))
		}
	}
}

// benchService returns a perk service on a fresh SQLite database with the
// coffee programme approved, its id, and the year's events of yearInput
// stored for customer "c" with its claims.
func benchService(b *testing.B) (*rewards.PerkService, int64) {
	b.Helper()
	d := dbtest.OpenSQLite(b)
	clk := clock.NewManual(sh(2025, 12, 1, 0, 0, 0))
	svc := rewards.NewPerkService(d, clk)
	ctx := context.Background()
	p, err := svc.CreateProgramme(ctx, cm1, rewards.PerkProgrammeInput{Name: "Coffee", Template: "coffee", Product: product, StartDate: "2026-01-01", EndDate: "2026-12-31"})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := svc.ApproveVersion(ctx, cm2, p.ID, 1); err != nil {
		b.Fatal(err)
	}
	clk.Set(sh(2027, 1, 1, 0, 0, 0))
	in := yearInput()
	if _, err := svc.IngestBatch(ctx, cardSys, in.Events); err != nil {
		b.Fatal(err)
	}
	for _, c := range in.Claims {
		if _, err := svc.Claim(ctx, perksUI, "c", rewards.GrantID(p.ID, c.Key), c.ClaimedAt); err != nil {
			b.Fatal(err)
		}
	}
	return svc, p.ID
}

// BenchmarkPerkLedgerRead measures GET …/perks?at= below HTTP: loading a
// year of one cardholder's events and claims from SQLite and evaluating.
func BenchmarkPerkLedgerRead(b *testing.B) {
	svc, pid := benchService(b)
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		ls, err := svc.Perks(ctx, "c", pid, sh(2026, 12, 31, 0, 0, 0))
		if err != nil || len(ls[0].Grants) != 53 {
			b.Fatalf("perks: %v", err)
		}
	}
}

// BenchmarkPerkIngestBatch measures storing batches of 500 purchase events
// (one transaction per batch), each for its own cardholder.
func BenchmarkPerkIngestBatch(b *testing.B) {
	svc, _ := benchService(b)
	ctx := context.Background()
	n := 0
	b.ResetTimer()
	for b.Loop() {
		es := make([]rewards.CardEvent, 500)
		for i := range es {
			n++
			es[i] = rewards.CardEvent{EventID: fmt.Sprintf("bench-%d", n), Kind: rewards.EventPurchase, CustomerID: fmt.Sprintf("cust-%d", n%5000),
				CardID: "k", OccurredAt: sh(2026, 6, 1, 12, 0, 0), AmountFen: 1000}
		}
		if _, err := svc.IngestBatch(ctx, cardSys, es); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(n), "µs/event")
}
