package rewards_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"rmref/internal/apperr"
	"rmref/internal/auth"
	"rmref/internal/clock"
	"rmref/internal/db"
	"rmref/internal/dbtest"
	"rmref/rewards"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

const product = "luckin_cobrand"

var (
	cm1     = auth.Principal{StaffID: 1, EmployeeNo: "CM1", Roles: []auth.Role{auth.RoleCampaignManager}}
	cm2     = auth.Principal{StaffID: 2, EmployeeNo: "CM2", Roles: []auth.Role{auth.RoleCampaignManager}}
	cardSys = auth.Principal{ClientKey: "cards", ClientName: "card system"}
	perksUI = auth.Principal{ClientKey: "perks", ClientName: "perks platform"}
)

// fixture is an approved coffee programme (2026-01-01 to 2027-12-31) on a
// real database, with the clock far enough ahead that every event is past.
type fixture struct {
	t   *testing.T
	d   *db.DB
	clk *clock.Manual
	svc *rewards.PerkService
	pid int64
	n   int
}

func newFixture(t *testing.T, d *db.DB) *fixture {
	t.Helper()
	f := &fixture{t: t, d: d, clk: clock.NewManual(sh(2025, 12, 1, 0, 0, 0))}
	f.svc = rewards.NewPerkService(d, f.clk)
	ctx := context.Background()
	p, err := f.svc.CreateProgramme(ctx, cm1, rewards.PerkProgrammeInput{Name: "Coffee", Template: "coffee", Product: product,
		StartDate: "2026-01-01", EndDate: "2027-12-31"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.ApproveVersion(ctx, cm2, p.ID, 1); err != nil {
		t.Fatal(err)
	}
	f.pid = p.ID
	f.clk.Set(sh(2028, 6, 1, 0, 0, 0))
	return f
}

func bp(b bool) *bool { return &b }

func (f *fixture) ingest(e rewards.CardEvent) (rewards.PerkEventResult, error) {
	f.t.Helper()
	if e.EventID == "" {
		f.n++
		e.EventID = fmt.Sprintf("ev-%s-%d", e.CustomerID, f.n)
	}
	return f.svc.Ingest(context.Background(), cardSys, e)
}

func (f *fixture) must(e rewards.CardEvent) rewards.PerkEventResult {
	f.t.Helper()
	r, err := f.ingest(e)
	if err != nil {
		f.t.Fatalf("ingest %+v: %v", e, err)
	}
	return r
}

// batch ingests events in one transaction and fails on any refused item.
func (f *fixture) batch(es []rewards.CardEvent) []rewards.PerkEventResult {
	f.t.Helper()
	for i := range es {
		if es[i].EventID == "" {
			f.n++
			es[i].EventID = fmt.Sprintf("ev-%s-%d", es[i].CustomerID, f.n)
		}
	}
	items, err := f.svc.IngestBatch(context.Background(), cardSys, es)
	if err != nil {
		f.t.Fatal(err)
	}
	out := make([]rewards.PerkEventResult, len(items))
	for i, it := range items {
		if it.Err != nil {
			f.t.Fatalf("batch item %d: %v", i, it.Err)
		}
		out[i] = it.Result
	}
	return out
}

func purchase(cust, card string, at time.Time, fen int64) rewards.CardEvent {
	return rewards.CardEvent{Kind: rewards.EventPurchase, CustomerID: cust, CardID: card, OccurredAt: at, AmountFen: fen, Merchant: "m"}
}

func (f *fixture) approve(cust, card string, at time.Time, tier string, primary, isNew bool) {
	f.t.Helper()
	f.must(rewards.CardEvent{Kind: rewards.EventCardApproved, CustomerID: cust, CardID: card, OccurredAt: at,
		Product: product, Tier: tier, Primary: bp(primary), NewCustomer: bp(isNew)})
}

func (f *fixture) buy(id, cust, card string, at time.Time, fen int64) {
	f.t.Helper()
	f.must(rewards.CardEvent{EventID: id, Kind: rewards.EventPurchase, CustomerID: cust, CardID: card, OccurredAt: at, AmountFen: fen, Merchant: "m"})
}

func (f *fixture) reverse(cust, card, purchase string, at time.Time) {
	f.t.Helper()
	f.must(rewards.CardEvent{Kind: rewards.EventPurchaseReversed, CustomerID: cust, CardID: card, OccurredAt: at, PurchaseEventID: purchase})
}

func (f *fixture) exchange(cust, card string, at time.Time) rewards.PerkEventResult {
	f.t.Helper()
	return f.must(rewards.CardEvent{Kind: rewards.EventExchange, CustomerID: cust, CardID: card, OccurredAt: at, Points: 2600})
}

func (f *fixture) claim(cust, key string, at time.Time) (rewards.PerkGrant, error) {
	return f.svc.Claim(context.Background(), perksUI, cust, rewards.GrantID(f.pid, key), at)
}

func (f *fixture) mustClaim(cust, key string, at time.Time) rewards.PerkGrant {
	f.t.Helper()
	g, err := f.claim(cust, key, at)
	if err != nil {
		f.t.Fatalf("claim %s %s at %v: %v", cust, key, at, err)
	}
	return g
}

func (f *fixture) ledger(cust string, at time.Time) rewards.PerkLedger {
	f.t.Helper()
	ls, err := f.svc.Perks(context.Background(), cust, f.pid, at)
	if err != nil {
		f.t.Fatalf("perks %s: %v", cust, err)
	}
	if len(ls) != 1 {
		f.t.Fatalf("perks %s: %d ledgers", cust, len(ls))
	}
	return ls[0]
}

// keys lists grant key:state pairs.
func keys(l rewards.PerkLedger) []string {
	var out []string
	for _, g := range l.Grants {
		out = append(out, g.Key+":"+g.State)
	}
	return out
}

func wantSlug(t *testing.T, err error, slug string) {
	t.Helper()
	e, ok := apperr.As(err)
	if !ok || e.Slug() != slug {
		t.Fatalf("error = %v, want %s", err, slug)
	}
}

func containsField(err error, field string) bool {
	e, ok := apperr.As(err)
	if !ok {
		return false
	}
	for _, f := range e.Fields {
		if f.Field == field {
			return true
		}
	}
	return false
}

func eq(t *testing.T, what string, got, want any) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}
