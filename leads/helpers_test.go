package leads_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"rmref/customer"
	"rmref/internal/auth"
	"rmref/internal/clock"
	"rmref/internal/db"
	"rmref/internal/dbtest"
	"rmref/internal/testapp"
	"rmref/leads"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

var sh = mustLoc("Asia/Shanghai")

func mustLoc(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

// local returns the instant of a Shanghai wall-clock time.
func local(y int, m time.Month, d, h, min int) time.Time {
	return time.Date(y, m, d, h, min, 0, 0, sh).UTC()
}

// world is a small bank: HQ > branch B001 (RMs rm1, rm2, manager mgr) and
// a second branch B002 (rm3), plus the call centre CC (agent ag1).
type world struct {
	d                       *db.DB
	svc                     *leads.Service
	clk                     *clock.Manual
	hq, b1, b2, cc          int64
	rm1, rm2, rm3, mgr, ag1 int64
	pRM1, pRM2, pMgr, pHQ   auth.Principal
	ctx                     context.Context
}

func newWorld(t testing.TB, d *db.DB, now time.Time) *world {
	t.Helper()
	s := testapp.NewSeeder(t, d)
	w := &world{d: d, clk: clock.NewManual(now), ctx: context.Background()}
	w.hq = s.Unit("hq", "HQ", "Head office", 0)
	w.b1 = s.Unit("branch", "B001", "Branch one", w.hq)
	w.b2 = s.Unit("branch", "B002", "Branch two", w.hq)
	w.cc = s.Unit("team", "CC", "Call centre", w.hq)
	w.rm1 = s.Staff("E001", "RM one", w.b1)
	w.rm2 = s.Staff("E002", "RM two", w.b1)
	w.mgr = s.Staff("E003", "Manager", w.b1, auth.RoleStaff, auth.RoleManager)
	w.rm3 = s.Staff("E004", "RM three", w.b2)
	w.ag1 = s.Staff("A001", "Agent", w.cc)
	hqAdmin := s.Staff("H001", "HQ admin", w.hq, auth.RoleHQAdmin)
	w.svc = leads.NewService(d, w.clk)
	w.pRM1 = w.principal(t, w.rm1)
	w.pRM2 = w.principal(t, w.rm2)
	w.pMgr = w.principal(t, w.mgr)
	w.pHQ = w.principal(t, hqAdmin)
	set := leads.DefaultSettings()
	set.DefaultPoolUnitID = w.hq
	set.ChannelUnits = map[string]int64{leads.ChannelCallCenter: w.cc}
	if _, err := w.svc.UpdateSettings(w.ctx, "test", set); err != nil {
		t.Fatal(err)
	}
	// The manager does not take leads themselves.
	if err := w.svc.SetCapacity(w.ctx, w.pHQ, w.mgr, 0); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *world) principal(t testing.TB, id int64) auth.Principal {
	t.Helper()
	p, err := auth.LoadStaffPrincipal(w.ctx, w.d, id, 0)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// customer stores CRM attributes; consent to every channel unless changed by fn.
func (w *world) customer(t testing.TB, id string, fn func(a *customer.Attributes)) {
	t.Helper()
	a := customer.Attributes{CustomerID: id, ValueTier: "mass", AgeBand: "30_44", HomeBranch: "B001",
		Consent: customer.Consent{CallCenter: true, SMS: true, WeCom: true, Branch: true}}
	if fn != nil {
		fn(&a)
	}
	if _, err := customer.SaveAttributes(w.ctx, w.d, "test", []customer.Attributes{a}, w.clk.Now()); err != nil {
		t.Fatal(err)
	}
}

func (w *world) rule(t testing.TB, code string, def leads.Definition) leads.Rule {
	t.Helper()
	r, err := w.svc.CreateRule(w.ctx, "staff:test", leads.RuleInput{Code: code, Name: code, Status: leads.RuleActive, Definition: def})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func dwellRule(route ...string) leads.Definition {
	if len(route) == 0 {
		route = []string{leads.ChannelCallCenter, leads.ChannelBranch}
	}
	return leads.Definition{
		Trigger:  leads.Trigger{Type: leads.TriggerDwell, Products: []string{"FUND1"}, DwellSeconds: 60},
		Routing:  leads.Routing{Default: route},
		Priority: 10, SLAHours: 2, SLAHoursByChannel: map[string]int{leads.ChannelBranch: 8}, CooldownDays: 3,
	}
}

func (w *world) ingest(t testing.TB, evs ...leads.EventIn) leads.IngestResult {
	t.Helper()
	res, err := w.svc.Ingest(w.ctx, "client:test", evs)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

var evSeq int

func view(cust string, at time.Time, dwell int) leads.EventIn {
	evSeq++
	return leads.EventIn{EventID: fmt.Sprintf("ev-%d", evSeq), CustomerID: cust, Kind: leads.EventProductView, Product: "FUND1", OccurredAt: at, DwellSeconds: dwell}
}

func event(cust, kind, product string, at time.Time) leads.EventIn {
	evSeq++
	return leads.EventIn{EventID: fmt.Sprintf("ev-%d", evSeq), CustomerID: cust, Kind: kind, Product: product, OccurredAt: at}
}

// only returns the one lead of a customer, failing otherwise.
func (w *world) only(t testing.TB, cust string) leads.Lead {
	t.Helper()
	ls := w.leadsOf(t, cust)
	if len(ls) != 1 {
		t.Fatalf("customer %s has %d leads, want 1: %+v", cust, len(ls), ls)
	}
	return ls[0]
}

func (w *world) leadsOf(t testing.TB, cust string) []leads.Lead {
	t.Helper()
	all, err := w.svc.List(w.ctx, w.pHQ, leads.ListFilter{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	var out []leads.Lead
	for _, l := range all {
		if l.CustomerID == cust {
			out = append(out, l)
		}
	}
	return out
}

func (w *world) detail(t testing.TB, id int64) leads.Detail {
	t.Helper()
	d, err := w.svc.Get(w.ctx, w.pHQ, id)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func eqTime(t testing.TB, what string, got *time.Time, want time.Time) {
	t.Helper()
	if got == nil || !got.Equal(want) {
		t.Fatalf("%s = %v, want %v", what, got, want)
	}
}
