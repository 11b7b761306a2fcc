package leads_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"rmref/attribution"
	"rmref/customer"
	"rmref/internal/apperr"
	"rmref/internal/db"
	"rmref/internal/dbtest"
	"rmref/internal/pii"
	"rmref/leads"
	"rmref/org"
)

// oneCampaign covers everything with one campaign of the test's bank.
type oneCampaign struct{ c attribution.Campaign }

func (f oneCampaign) Covering(_ context.Context, _ sqlx.ExtContext, at time.Time) ([]attribution.Campaign, error) {
	if f.c.Covers(at) {
		return []attribution.Campaign{f.c}, nil
	}
	return nil, nil
}

func (f oneCampaign) Campaign(_ context.Context, _ sqlx.ExtContext, id int64) (attribution.Campaign, error) {
	if f.c.ID == id {
		return f.c, nil
	}
	return attribution.Campaign{}, apperr.NotFoundf("no such campaign")
}

// attributionFor hooks the real attribution engine (last touch) into w.
func attributionFor(t *testing.T, w *world) *attribution.Service {
	t.Helper()
	camp := attribution.Campaign{ID: 1, Start: w.clk.Now().AddDate(0, 0, -30), End: w.clk.Now().AddDate(0, 1, 0), Location: time.UTC,
		UnitPaths: []string{fmt.Sprintf("/%d/", w.hq)}, Counts: map[string]int64{"account_opened": 0}, Settings: attribution.Settings{Model: attribution.LastTouch}}
	bank := attribution.Bank{Org: org.NewStore(w.d.Dialect), HashKey: []byte("k")}
	cust := &customer.Service{Store: customer.Store{Dialect: w.d.Dialect}, Hasher: pii.NewHasher([]byte("k")), Tokens: bank}
	svc := attribution.NewService(w.d, w.clk, cust, oneCampaign{camp}, bank, bank)
	leads.Bank{Customers: cust, Attribution: svc}.Hook(w.svc)
	return svc
}

func TestFollowUpContactIsCreditedByLaterConversion(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		mon := local(2026, 11, 2, 10, 0)
		w := newWorld(t, d, mon)
		attr := attributionFor(t, w)
		w.rule(t, "dwell", dwellRule(leads.ChannelBranch))
		w.customer(t, "C1", nil)
		w.ingest(t, view("C1", mon, 90))
		l := w.only(t, "C1")
		w.clk.Set(mon.Add(time.Hour))
		if _, err := w.svc.StaffReport(w.ctx, w.principal(t, l.AssigneeID), l.ID, leads.Report{EventID: "c1", Type: leads.ReportContact}); err != nil {
			t.Fatal(err)
		}
		w.clk.Set(mon.Add(2 * time.Hour))
		amount, at := int64(500000), mon.Add(2*time.Hour)
		v, _, err := attr.Record(w.ctx, attribution.ConversionInput{Source: "core", ExternalID: "acct-1", Type: "account_opened",
			Customer: customer.Identifiers{CustomerID: "C1"}, AmountFen: &amount, Channel: "offline", OccurredAt: &at}, "test")
		if err != nil {
			t.Fatal(err)
		}
		got := map[int64]int64{}
		for _, a := range v.Attributions {
			for _, c := range a.Credits {
				got[c.StaffID] += c.CreditedFen
			}
		}
		if got[l.AssigneeID] != amount || len(got) != 1 {
			t.Fatalf("credits %v, want all %d fen to the RM %d who followed up", got, amount, l.AssigneeID)
		}
	})
}

func TestTouchesFromOtherSystemsCountTowardsCaps(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		mon := local(2026, 11, 2, 10, 0)
		w := newWorld(t, d, mon)
		attr := attributionFor(t, w)
		w.rule(t, "dwell", dwellRule())
		w.customer(t, "C1", nil)
		for i, at := range []time.Time{mon.Add(-time.Hour), mon.Add(-30 * time.Minute)} {
			at := at
			if _, _, err := attr.RecordTouch(w.ctx, attribution.TouchInput{Source: "callcenter", ExternalID: fmt.Sprintf("x%d", i), Customer: customer.Identifiers{CustomerID: "C1"},
				StaffEmployeeNo: "A001", Channel: "remote", Kind: "call", OccurredAt: &at}, "test"); err != nil {
				t.Fatal(err)
			}
		}
		w.ingest(t, view("C1", mon, 90))
		if l := w.only(t, "C1"); l.Status != leads.StatusSuppressed || l.CloseReason != leads.ReasonWeekCap {
			t.Fatalf("after two outside calls this week: %s/%s", l.Status, l.CloseReason)
		}
	})
}
