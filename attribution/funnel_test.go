package attribution_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"rmref/attribution"
	"rmref/customer"
	"rmref/internal/apperr"
	"rmref/internal/auth"
	"rmref/internal/db"
	"rmref/internal/dbtest"
)

// principalOf returns the principal of a world staff member.
func principalOf(t *testing.T, w *world, staffID int64) auth.Principal {
	t.Helper()
	p, err := auth.LoadStaffPrincipal(context.Background(), w.d, staffID, 0)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFunnelScopeAndSteps(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d, attribution.Settings{Model: attribution.Linear})
		w.camp.Counts["card_approved"] = 0
		seedBoard(t, w)
		amount, at := int64(0), t0.Add(4*time.Hour+time.Minute)
		in := attribution.ConversionInput{Source: "card", ExternalID: "k1", Type: "card_approved", Customer: customer.Identifiers{CustomerID: "C2"},
			AmountFen: &amount, Channel: "offline", OccurredAt: &at}
		if _, _, err := w.svc.Record(context.Background(), in, "test"); err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		counts := func(p auth.Principal, q attribution.FunnelQuery) (attribution.Funnel, map[string]float64) {
			t.Helper()
			f, err := w.boards().Funnel(ctx, p, w.camp.ID, q)
			if err != nil {
				t.Fatalf("funnel %+v: %v", q, err)
			}
			return f, f.Total.Counts
		}
		f, got := counts(hqAdmin, attribution.FunnelQuery{})
		want := map[string]float64{"shares": 0, "clicks": 0, "unique_visitors": 0, "account_opened": 4, "card_approved": 1}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("hqAdmin (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"shares", "clicks", "unique_visitors", "account_opened", "card_approved"}, f.Steps); diff != "" {
			t.Errorf("steps (-want +got):\n%s", diff)
		}
		if r := f.Total.Rates["card_approved"]; r == nil || *r != 0.25 || f.Total.Rates["account_opened"] != nil {
			t.Errorf("rates %v", f.Total.Rates)
		}
		if len(f.Periods) != 1 || f.Periods[0].Period != "2026-11-10" {
			t.Errorf("periods %+v", f.Periods)
		}
		if f, _ := counts(hqAdmin, attribution.FunnelQuery{By: "week"}); len(f.Periods) != 1 || f.Periods[0].Period != "2026-11-09" {
			t.Errorf("week periods %+v", f.Periods)
		}
		// A plain staff member sees only their own credits.
		if _, got := counts(principalOf(t, w, w.a), attribution.FunnelQuery{}); got["account_opened"] != 0.666667 || got["card_approved"] != 0 {
			t.Errorf("staff A: %v", got)
		}
		m := principalOf(t, w, w.m)
		if _, got := counts(m, attribution.FunnelQuery{UnitID: w.tm2}); got["account_opened"] != 1 || got["card_approved"] != 1 {
			t.Errorf("manager, team 2: %v", got)
		}
		var hqUnit int64
		if err := d.GetContext(ctx, &hqUnit, `SELECT id FROM org_units WHERE code = 'HQ'`); err != nil {
			t.Fatal(err)
		}
		for name, c := range map[string]struct {
			p    auth.Principal
			unit int64
		}{"manager above his subtree": {m, hqUnit}, "staff asking for a unit": {principalOf(t, w, w.a), w.tm1}} {
			if _, err := w.boards().Funnel(ctx, c.p, w.camp.ID, attribution.FunnelQuery{UnitID: c.unit}); apperr.KindOf(err) != apperr.NotFound {
				t.Errorf("%s: %v, want not found", name, err)
			}
		}
	})
}
