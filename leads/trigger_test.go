package leads_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"rmref/customer"
	"rmref/internal/db"
	"rmref/internal/dbtest"
	"rmref/leads"
)

func TestDwellTriggerAtThreshold(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		at := local(2026, 11, 2, 10, 0) // Monday 10:00 Shanghai
		w := newWorld(t, d, at)
		w.rule(t, "dwell", dwellRule())
		w.customer(t, "C59", nil)
		w.customer(t, "C60", nil)
		w.ingest(t, view("C59", at, 59), view("C60", at, 60))
		if n := len(w.leadsOf(t, "C59")); n != 0 {
			t.Fatalf("dwell 59 s made %d leads, want 0", n)
		}
		l := w.only(t, "C60")
		if l.Status != leads.StatusOffered || l.Channel != leads.ChannelCallCenter || !l.TriggeredAt.Equal(at) {
			t.Fatalf("lead = %+v", l)
		}
		// SLA 2 working hours from 10:00 Monday: 12:00; at risk after 80%: 11:36.
		eqTime(t, "deadline", l.SLADeadline, local(2026, 11, 2, 12, 0))
		eqTime(t, "at risk", l.SLAAtRiskAt, local(2026, 11, 2, 11, 36))
		if l.UnitID != w.cc {
			t.Fatalf("unit = %d, want call centre %d", l.UnitID, w.cc)
		}
	})
}

func TestEventsIdempotentAndFutureRefused(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		at := local(2026, 11, 2, 10, 0)
		w := newWorld(t, d, at)
		w.rule(t, "dwell", dwellRule())
		w.customer(t, "C1", nil)
		e := view("C1", at, 90)
		first := w.ingest(t, e)
		again := w.ingest(t, e)
		if first.Accepted != 1 || len(first.Leads) != 1 || again.Accepted != 0 || again.Duplicates != 1 || len(again.Leads) != 0 {
			t.Fatalf("first %+v, again %+v", first, again)
		}
		_, err := w.svc.Ingest(w.ctx, "client:test", []leads.EventIn{view("C1", at.Add(5*time.Minute+time.Second), 90)})
		if err != leads.ErrFutureTime {
			t.Fatalf("future event: err = %v", err)
		}
	})
}

func TestAbandonmentAtExactlyM(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		start := local(2026, 11, 2, 10, 0)
		w := newWorld(t, d, start)
		w.rule(t, "abandon", leads.Definition{
			Trigger: leads.Trigger{Type: leads.TriggerAbandon, Products: []string{"CARD1"}, AbandonMinutes: 30},
			Routing: leads.Routing{Default: []string{leads.ChannelCallCenter}}, Priority: 5, SLAHours: 2, CooldownDays: 1,
		})
		w.customer(t, "ONTIME", nil)
		w.customer(t, "LATE", nil)
		w.ingest(t,
			event("ONTIME", leads.EventApplicationStarted, "CARD1", start),
			event("LATE", leads.EventApplicationStarted, "CARD1", start))
		w.clk.Set(start.Add(29 * time.Minute))
		if _, err := w.svc.RunDue(w.ctx); err != nil {
			t.Fatal(err)
		}
		if n := len(w.leadsOf(t, "LATE")); n != 0 {
			t.Fatalf("lead before start + M: %d", n)
		}
		// A submit at exactly M is in time; one second later is not.
		w.clk.Set(start.Add(31 * time.Minute))
		w.ingest(t,
			event("ONTIME", leads.EventApplicationSubmitted, "CARD1", start.Add(30*time.Minute)),
			event("LATE", leads.EventApplicationSubmitted, "CARD1", start.Add(30*time.Minute+time.Second)))
		if n := len(w.leadsOf(t, "ONTIME")); n != 0 {
			t.Fatalf("submit at exactly M made %d leads", n)
		}
		l := w.only(t, "LATE")
		if !l.TriggeredAt.Equal(start.Add(30*time.Minute)) || l.TriggerEventID == "" {
			t.Fatalf("lead made at %v, want start + 30 min", l.TriggeredAt)
		}
		eqTime(t, "offered", l.OfferedAt, start.Add(30*time.Minute))
	})
}

func TestCountWindowTrigger(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		at := local(2026, 11, 2, 10, 0)
		w := newWorld(t, d, at.Add(time.Hour))
		w.rule(t, "calc", leads.Definition{
			Trigger: leads.Trigger{Type: leads.TriggerCount, EventKind: leads.EventCalculatorUsed, Count: 3, WindowMinutes: 10},
			Routing: leads.Routing{Default: []string{leads.ChannelCallCenter}}, SLAHours: 2,
		})
		w.customer(t, "SPREAD", nil)
		w.customer(t, "DENSE", nil)
		// SPREAD: 10:00, 10:05, 10:10:01 — the first and third are more than 10 min apart.
		w.ingest(t, event("SPREAD", leads.EventCalculatorUsed, "LOAN", at), event("SPREAD", leads.EventCalculatorUsed, "LOAN", at.Add(5*time.Minute)),
			event("SPREAD", leads.EventCalculatorUsed, "LOAN", at.Add(10*time.Minute+time.Second)))
		// DENSE: the third arrives first (out of order), the window is exactly 10 min.
		w.ingest(t, event("DENSE", leads.EventCalculatorUsed, "LOAN", at.Add(10*time.Minute)))
		w.ingest(t, event("DENSE", leads.EventCalculatorUsed, "LOAN", at), event("DENSE", leads.EventCalculatorUsed, "LOAN", at.Add(4*time.Minute)))
		if n := len(w.leadsOf(t, "SPREAD")); n != 0 {
			t.Fatalf("spread events made %d leads", n)
		}
		l := w.only(t, "DENSE")
		if !l.TriggeredAt.Equal(at.Add(10 * time.Minute)) {
			t.Fatalf("lead at %v, want the window's third event", l.TriggeredAt)
		}
	})
}

func TestRoutingByPreferenceValueAndAge(t *testing.T) {
	r := leads.Routing{
		Default: []string{leads.ChannelCallCenter, leads.ChannelSMS, leads.ChannelBranch},
		ByValue: map[string][]string{"private": {leads.ChannelBranch}},
		ByAge:   map[string][]string{"60_74": {leads.ChannelBranch, leads.ChannelCallCenter}, "75_plus": {leads.ChannelBranch}},
	}
	cases := []struct {
		name string
		a    customer.Attributes
		want []string
	}{
		{"mass adult gets the default", customer.Attributes{ValueTier: "mass", AgeBand: "30_44"}, []string{leads.ChannelCallCenter, leads.ChannelSMS, leads.ChannelBranch}},
		{"private goes to the branch", customer.Attributes{ValueTier: "private", AgeBand: "30_44"}, []string{leads.ChannelBranch}},
		{"60+ offline first", customer.Attributes{ValueTier: "mass", AgeBand: "60_74"}, []string{leads.ChannelBranch, leads.ChannelCallCenter}},
		{"value before age", customer.Attributes{ValueTier: "private", AgeBand: "60_74"}, []string{leads.ChannelBranch}},
		{"preference first", customer.Attributes{ValueTier: "private", AgeBand: "75_plus", PreferredChannel: leads.ChannelSMS}, []string{leads.ChannelSMS, leads.ChannelBranch}},
		{"preference reorders", customer.Attributes{ValueTier: "mass", AgeBand: "60_74", PreferredChannel: leads.ChannelCallCenter}, []string{leads.ChannelCallCenter, leads.ChannelBranch}},
		{"preference outside the rule ignored", customer.Attributes{ValueTier: "mass", AgeBand: "30_44", PreferredChannel: leads.ChannelWeCom}, []string{leads.ChannelCallCenter, leads.ChannelSMS, leads.ChannelBranch}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if diff := cmp.Diff(c.want, r.Route(c.a)); diff != "" {
				t.Fatalf("route (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRoutedLeadGoesToBranchRM(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		at := local(2026, 11, 2, 10, 0)
		w := newWorld(t, d, at)
		def := dwellRule()
		def.Routing.ByAge = map[string][]string{"60_74": {leads.ChannelBranch, leads.ChannelCallCenter}}
		w.rule(t, "dwell", def)
		w.customer(t, "SENIOR", func(a *customer.Attributes) { a.AgeBand = "60_74" })
		w.ingest(t, view("SENIOR", at, 120))
		l := w.only(t, "SENIOR")
		if l.Channel != leads.ChannelBranch || l.UnitID != w.b1 || (l.AssigneeID != w.rm1 && l.AssigneeID != w.rm2) {
			t.Fatalf("senior lead = %+v, want a B001 RM", l)
		}
		// Branch SLA 8 working hours from Monday 10:00: the end of the day, 18:00.
		eqTime(t, "deadline", l.SLADeadline, local(2026, 11, 2, 18, 0))
	})
}

func TestDedupAndCooldown(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		at := local(2026, 11, 2, 10, 0)
		w := newWorld(t, d, at)
		w.rule(t, "dwell", dwellRule(leads.ChannelBranch))
		w.customer(t, "C1", nil)
		w.ingest(t, view("C1", at, 90))
		w.ingest(t, view("C1", at.Add(time.Minute), 90))
		l := w.only(t, "C1") // one open lead per customer and product
		p := w.principal(t, l.AssigneeID)
		closeAt := local(2026, 11, 2, 23, 30)
		w.clk.Set(closeAt)
		if _, err := w.svc.StaffReport(w.ctx, p, l.ID, leads.Report{Type: leads.ReportOutcome, Outcome: leads.StatusNotInterested, At: closeAt}); err != nil {
			t.Fatal(err)
		}
		// Cool-down 3 days: day 1 is 2 Nov (Shanghai), so it ends at the end of 4 Nov.
		w.clk.Set(local(2026, 11, 5, 1, 0))
		w.ingest(t, view("C1", local(2026, 11, 4, 23, 59), 90))
		if n := len(w.leadsOf(t, "C1")); n != 1 {
			t.Fatalf("lead inside cool-down: %d leads", n)
		}
		w.ingest(t, view("C1", local(2026, 11, 5, 0, 0), 90))
		if n := len(w.leadsOf(t, "C1")); n != 2 {
			t.Fatalf("after cool-down: %d leads, want 2", n)
		}
	})
}
