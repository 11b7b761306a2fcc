package leads_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jmoiron/sqlx"

	"rmref/customer"
	"rmref/internal/db"
	"rmref/internal/dbtest"
	"rmref/leads"
)

func TestCalendarWorkingHours(t *testing.T) {
	c := leads.Calendar{Timezone: "Asia/Shanghai", Workdays: []int{1, 2, 3, 4, 5}, Start: "09:00", End: "18:00",
		Overrides: []leads.DayOverride{{Date: "2026-10-01", Kind: leads.DayHoliday}, {Date: "2026-10-10", Kind: leads.DayWorkday}}}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		from  time.Time
		hours int
		want  time.Time
	}{
		{"within a day", local(2026, 11, 2, 10, 0), 2, local(2026, 11, 2, 12, 0)},
		{"ends at closing", local(2026, 11, 2, 10, 0), 8, local(2026, 11, 2, 18, 0)},
		{"Friday into Monday", local(2026, 11, 6, 17, 0), 2, local(2026, 11, 9, 10, 0)},
		{"before opening", local(2026, 11, 2, 7, 0), 1, local(2026, 11, 2, 10, 0)},
		{"Saturday starts Monday", local(2026, 11, 7, 12, 0), 1, local(2026, 11, 9, 10, 0)},
		{"holiday skipped", local(2026, 9, 30, 17, 0), 2, local(2026, 10, 2, 10, 0)},
		{"adjusted Saturday workday", local(2026, 10, 9, 17, 0), 2, local(2026, 10, 10, 10, 0)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := c.AddWorking(tc.from, time.Duration(tc.hours)*time.Hour); !got.Equal(tc.want) {
				t.Fatalf("AddWorking = %v, want %v", got.In(sh), tc.want.In(sh))
			}
		})
	}
}

func TestQuietHoursDeferral(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d, local(2026, 11, 3, 9, 30))
		w.rule(t, "dwell", dwellRule())
		for _, c := range []string{"C2059", "C2100", "C0030"} {
			w.customer(t, c, nil)
		}
		// Events are sent in UTC: 12:59Z is 20:59 in Shanghai, 13:00Z is 21:00.
		w.ingest(t,
			view("C2059", time.Date(2026, 11, 2, 12, 59, 0, 0, time.UTC), 90),
			view("C2100", time.Date(2026, 11, 2, 13, 0, 0, 0, time.UTC), 90),
			view("C0030", time.Date(2026, 11, 2, 16, 30, 0, 0, time.UTC), 90)) // 00:30 on 3 Nov, Shanghai
		if l := w.only(t, "C2059"); l.Status != leads.StatusOffered {
			t.Fatalf("20:59 lead status %s, want offered", l.Status)
		}
		l := w.only(t, "C2100")
		if l.Status != leads.StatusDeferred {
			t.Fatalf("21:00 lead status %s, want deferred", l.Status)
		}
		eqTime(t, "21:00 deferred until", l.DeferredUntil, local(2026, 11, 3, 9, 0))
		eqTime(t, "00:30 deferred until", w.only(t, "C0030").DeferredUntil, local(2026, 11, 3, 9, 0))
		if _, err := w.svc.RunDue(w.ctx); err != nil {
			t.Fatal(err)
		}
		l = w.only(t, "C2100")
		if l.Status != leads.StatusOffered {
			t.Fatalf("after quiet hours status %s", l.Status)
		}
		eqTime(t, "offered", l.OfferedAt, local(2026, 11, 3, 9, 0))
		eqTime(t, "deadline", l.SLADeadline, local(2026, 11, 3, 11, 0))
		h := w.detail(t, l.ID).History
		if h[1].To != leads.StatusDeferred || h[1].Reason != leads.ReasonQuietHours {
			t.Fatalf("history %+v lacks the deferral", h)
		}
	})
}

func TestDoNotContactAndConsent(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		at := local(2026, 11, 2, 10, 0)
		w := newWorld(t, d, at)
		w.rule(t, "dwell", dwellRule())
		w.customer(t, "DNC", func(a *customer.Attributes) { a.DoNotContact = true })
		w.customer(t, "NOCALL", func(a *customer.Attributes) { a.Consent.CallCenter = false })
		w.customer(t, "NONE", func(a *customer.Attributes) { a.Consent = customer.Consent{} })
		w.ingest(t, view("DNC", at, 90), view("NOCALL", at, 90), view("NONE", at, 90))
		if l := w.only(t, "DNC"); l.Status != leads.StatusSuppressed || l.CloseReason != leads.ReasonDoNotContact {
			t.Fatalf("DNC lead %s/%s", l.Status, l.CloseReason)
		}
		l := w.only(t, "NOCALL")
		if l.Status != leads.StatusOffered || l.Channel != leads.ChannelBranch {
			t.Fatalf("no call-centre consent: %s on %s, want offered on the branch", l.Status, l.Channel)
		}
		if h := w.detail(t, l.ID).History; h[1].Reason != leads.ReasonNoConsent || h[1].Channel != leads.ChannelCallCenter {
			t.Fatalf("skip not recorded: %+v", h)
		}
		if l := w.only(t, "NONE"); l.Status != leads.StatusSuppressed || l.CloseReason != leads.ReasonNoChannel {
			t.Fatalf("no consent at all: %s/%s", l.Status, l.CloseReason)
		}
	})
}

// external counts contacts other systems recorded, as attribution would.
type external map[string]int

func (e external) CountExternalContacts(_ context.Context, _ sqlx.ExtContext, c string, _, _ time.Time) (int, error) {
	return e[c], nil
}

func TestFrequencyCapsAcrossChannels(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		mon := local(2026, 11, 2, 10, 0)
		w := newWorld(t, d, mon)
		w.svc.Contacts = external{"EXT": 2}
		remote := dwellRule(leads.ChannelCallCenter)
		w.rule(t, "fund", remote)
		branch := dwellRule(leads.ChannelBranch)
		branch.Trigger.Products = []string{"FUND2"}
		w.rule(t, "fund2", branch)
		w.rule(t, "fund3", leads.Definition{Trigger: leads.Trigger{Type: leads.TriggerDwell, Products: []string{"FUND3"}, DwellSeconds: 60},
			Routing: leads.Routing{Default: []string{leads.ChannelSMS}}, SLAHours: 2})
		w.customer(t, "C1", nil)
		w.customer(t, "EXT", nil)
		// Contact 1: the call centre, Monday.
		w.ingest(t, view("C1", mon, 90))
		cc := w.only(t, "C1")
		claimed, err := w.svc.Claim(w.ctx, "cc-platform", leads.ChannelCallCenter, 5)
		if err != nil || len(claimed) != 1 {
			t.Fatalf("claim: %v %v", claimed, err)
		}
		if _, err := w.svc.RemoteReport(w.ctx, "cc-platform", cc.ID, leads.Report{EventID: "r1", EmployeeNo: "A001", Type: leads.ReportContact, At: mon}); err != nil {
			t.Fatal(err)
		}
		// Contact 2: a branch RM, Monday.
		e2 := view("C1", mon.Add(time.Minute), 90)
		e2.Product = "FUND2"
		w.ingest(t, e2)
		var br leads.Lead
		for _, l := range w.leadsOf(t, "C1") {
			if l.Product == "FUND2" {
				br = l
			}
		}
		if _, err := w.svc.StaffReport(w.ctx, w.principal(t, br.AssigneeID), br.ID, leads.Report{Type: leads.ReportContact, At: mon.Add(2 * time.Minute)}); err != nil {
			t.Fatal(err)
		}
		// A third offer in the same natural week is suppressed by the cap of 2.
		e3 := view("C1", mon.Add(3*time.Minute), 90)
		e3.Product = "FUND3"
		e4 := view("EXT", mon, 90)
		e4.Product = "FUND3"
		w.ingest(t, e3, e4)
		for _, c := range []string{"C1", "EXT"} {
			for _, l := range w.leadsOf(t, c) {
				if l.Product == "FUND3" && (l.Status != leads.StatusSuppressed || l.CloseReason != leads.ReasonWeekCap) {
					t.Fatalf("%s third contact: %s/%s, want suppressed by week_cap", c, l.Status, l.CloseReason)
				}
			}
		}
		// Next Monday (a new natural week) the same offer goes through.
		next := local(2026, 11, 9, 10, 0)
		w.clk.Set(next)
		e5 := view("C1", next, 90)
		e5.Product = "FUND3"
		res := w.ingest(t, e5)
		if len(res.Leads) != 1 {
			t.Fatalf("next week: %+v", res)
		}
		l := w.leadsOf(t, "C1")[0]
		if l.Status != leads.StatusOffered || l.Channel != leads.ChannelSMS {
			t.Fatalf("next week lead %s on %s", l.Status, l.Channel)
		}
	})
}

func TestSLABreachReturnsToNextChannel(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		mon := local(2026, 11, 2, 10, 0)
		w := newWorld(t, d, mon)
		w.rule(t, "dwell", dwellRule())
		w.customer(t, "C1", nil)
		w.ingest(t, view("C1", mon, 90))
		l := w.only(t, "C1")
		w.clk.Set(local(2026, 11, 2, 11, 40))
		if got, _ := w.svc.Get(w.ctx, w.pHQ, l.ID); got.SLAState != leads.SLAAtRisk {
			t.Fatalf("at 11:40 SLA state %s, want at_risk", got.SLAState)
		}
		w.clk.Set(local(2026, 11, 2, 15, 0)) // the worker runs late
		if got, _ := w.svc.Get(w.ctx, w.pHQ, l.ID); got.SLAState != leads.SLABreached {
			t.Fatalf("SLA state %s, want breached", got.SLAState)
		}
		res, err := w.svc.RunDue(w.ctx)
		if err != nil || res.Returned != 1 {
			t.Fatalf("RunDue %+v %v", res, err)
		}
		d2 := w.detail(t, l.ID)
		if d2.Channel != leads.ChannelBranch || d2.Status != leads.StatusOffered || d2.Returns != 1 || d2.UnitID != w.b1 {
			t.Fatalf("returned lead %+v", d2.Lead)
		}
		// Dated at the missed deadline (12:00), then 8 working hours: Tuesday 11:00.
		eqTime(t, "offered", d2.OfferedAt, local(2026, 11, 2, 12, 0))
		eqTime(t, "deadline", d2.SLADeadline, local(2026, 11, 3, 11, 0))
		ret, last := d2.History[len(d2.History)-2], d2.History[len(d2.History)-1]
		if ret.To != leads.StatusReturned || ret.Channel != leads.ChannelCallCenter || last.Reason != leads.ReasonSLAMissed ||
			last.Channel != leads.ChannelBranch || !last.At.Equal(local(2026, 11, 2, 12, 0)) {
			t.Fatalf("history %+v", d2.History)
		}
		// Missing the branch SLA too leaves it in the home branch manager's queue.
		w.clk.Set(local(2026, 11, 4, 9, 0))
		if _, err := w.svc.RunDue(w.ctx); err != nil {
			t.Fatal(err)
		}
		q, err := w.svc.List(w.ctx, w.pMgr, leads.ListFilter{Status: leads.StatusQueued, Limit: 10})
		if err != nil || len(q) != 1 || q[0].ID != l.ID || q[0].UnitID != w.b1 {
			t.Fatalf("manager queue %+v %v", q, err)
		}
		got, err := w.svc.Reassign(w.ctx, w.pMgr, l.ID, w.rm2)
		if err != nil || got.AssigneeID != w.rm2 || got.Status != leads.StatusOffered {
			t.Fatalf("reassign %+v %v", got, err)
		}
	})
}

func TestRemoteUnreachableReturnsAndBranchUnreachableCloses(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		mon := local(2026, 11, 2, 10, 0)
		w := newWorld(t, d, mon)
		w.rule(t, "dwell", dwellRule())
		w.customer(t, "C1", nil)
		w.ingest(t, view("C1", mon, 90))
		l := w.only(t, "C1")
		w.clk.Set(mon.Add(10 * time.Minute))
		if _, err := w.svc.Claim(w.ctx, "cc", leads.ChannelCallCenter, 1); err != nil {
			t.Fatal(err)
		}
		attempt := mon.Add(15 * time.Minute)
		got, err := w.svc.RemoteReport(w.ctx, "cc", l.ID, leads.Report{EventID: "x1", EmployeeNo: "A001", Type: leads.ReportOutcome, Outcome: leads.StatusUnreachable, At: attempt})
		if err != nil {
			t.Fatal(err)
		}
		if got.Channel != leads.ChannelBranch || got.Status != leads.StatusOffered || got.Returns != 1 {
			t.Fatalf("after remote unreachable %+v", got)
		}
		eqTime(t, "offered", got.OfferedAt, attempt)
		if _, err := w.svc.StaffReport(w.ctx, w.principal(t, got.AssigneeID), l.ID, leads.Report{Type: leads.ReportOutcome, Outcome: leads.StatusUnreachable}); err != nil {
			t.Fatal(err)
		}
		if got, _ := w.svc.Get(w.ctx, w.pHQ, l.ID); got.Status != leads.StatusUnreachable || got.ClosedAt == nil {
			t.Fatalf("branch unreachable: %+v", got.Lead)
		}
	})
}

func TestReportCountsReturnsSuppressionsAndSLA(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		mon := local(2026, 11, 2, 10, 0)
		w := newWorld(t, d, mon)
		w.rule(t, "dwell", dwellRule())
		w.customer(t, "HIT", nil)
		w.customer(t, "MISS", nil)
		w.customer(t, "DNC", func(a *customer.Attributes) { a.DoNotContact = true })
		w.ingest(t, view("HIT", mon, 90), view("MISS", mon, 90), view("DNC", mon, 90))
		hit := w.only(t, "HIT")
		w.clk.Set(mon.Add(30 * time.Minute))
		if _, err := w.svc.Claim(w.ctx, "cc", leads.ChannelCallCenter, 1); err != nil {
			t.Fatal(err)
		}
		if _, err := w.svc.RemoteReport(w.ctx, "cc", hit.ID, leads.Report{EventID: "1", EmployeeNo: "A001", Type: leads.ReportOutcome, Outcome: leads.StatusConverted}); err != nil {
			t.Fatal(err)
		}
		w.clk.Set(local(2026, 11, 2, 13, 0))
		if _, err := w.svc.RunDue(w.ctx); err != nil {
			t.Fatal(err)
		}
		r, err := w.svc.Report(w.ctx, w.pHQ, mon.Add(-time.Hour), mon.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if r.Leads != 3 || r.SLADue != 2 || r.SLAHit != 1 || r.SLAHitRateBP != 5000 {
			t.Fatalf("leads %d, SLA due %d hit %d rate %d", r.Leads, r.SLADue, r.SLAHit, r.SLAHitRateBP)
		}
		if r.AvgFirstContactSeconds != 1800 || r.Contacted != 1 {
			t.Fatalf("first contact %d s over %d", r.AvgFirstContactSeconds, r.Contacted)
		}
		wantRet := []leads.ReturnCount{{Reason: leads.ReasonSLAMissed, From: leads.ChannelCallCenter, To: leads.ChannelBranch, Count: 1}}
		wantSup := []leads.Count{{Key: leads.ReasonDoNotContact, Count: 1}}
		wantConv := []leads.ChannelConversion{{Channel: leads.ChannelCallCenter, Closed: 1, Converted: 1, RateBP: 10000}}
		if diff := cmp.Diff(wantRet, r.Returns); diff != "" {
			t.Fatalf("returns (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(wantSup, r.Suppressions); diff != "" {
			t.Fatalf("suppressions (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(wantConv, r.Conversion); diff != "" {
			t.Fatalf("conversion (-want +got):\n%s", diff)
		}
		if _, err := w.svc.Report(w.ctx, w.pRM1, mon, mon.Add(time.Hour)); err == nil {
			t.Fatal("an RM got the report")
		}
	})
}
