package attribution_test

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jmoiron/sqlx"

	"rmref/attribution"
	"rmref/customer"
	"rmref/internal/apperr"
	"rmref/internal/audit"
	"rmref/internal/auth"
	"rmref/internal/clock"
	"rmref/internal/db"
	"rmref/internal/dbtest"
	"rmref/internal/pii"
	"rmref/internal/testapp"
	"rmref/org"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// fakeCampaigns serves one campaign through a pointer, so tests can
// change it (e.g. freeze it); the campaign package is tested on its own.
type fakeCampaigns struct{ c *attribution.Campaign }

func (f fakeCampaigns) Covering(_ context.Context, _ sqlx.ExtContext, at time.Time) ([]attribution.Campaign, error) {
	if f.c.Covers(at) {
		return []attribution.Campaign{*f.c}, nil
	}
	return nil, nil
}

func (f fakeCampaigns) Campaign(_ context.Context, _ sqlx.ExtContext, id int64) (attribution.Campaign, error) {
	if f.c.ID == id {
		return *f.c, nil
	}
	return attribution.Campaign{}, apperr.NotFoundf("no such campaign")
}

var t0 = time.Date(2026, 11, 10, 2, 0, 0, 0, time.UTC)

// world is a small bank: hq > region > branch > subbranch > two teams,
// staff A and B in team 1, C in team 2, a manager M of the branch and two
// hq admins H1, H2.
type world struct {
	d                        *db.DB
	clk                      *clock.Manual
	svc                      *attribution.Service
	orgSvc                   *org.Service
	camp                     *attribution.Campaign
	a, b, c, m, h1, h2       int64
	region, branch, sub, tm1 int64
	tm2                      int64
}

func newWorld(t *testing.T, d *db.DB, set attribution.Settings) *world { return newWorldTB(t, d, set) }

func newWorldTB(t testing.TB, d *db.DB, set attribution.Settings) *world {
	t.Helper()
	w := &world{d: d, clk: clock.NewManual(t0)}
	s := testapp.NewSeeder(t, d)
	hq := s.Unit("hq", "HQ", "总行", 0)
	w.region = s.Unit("region", "R1", "华北", hq)
	w.branch = s.Unit("branch", "B1", "北京分行", w.region)
	w.sub = s.Unit("subbranch", "S1", "朝阳支行", w.branch)
	w.tm1 = s.Unit("team", "T1", "一组", w.sub)
	w.tm2 = s.Unit("team", "T2", "二组", w.sub)
	w.a, w.b = s.Staff("A", "甲", w.tm1), s.Staff("B", "乙", w.tm1)
	w.c = s.Staff("C", "丙", w.tm2)
	w.m = s.Staff("M", "经理", w.branch, auth.RoleManager)
	w.h1, w.h2 = s.Staff("H1", "总一", hq, auth.RoleHQAdmin), s.Staff("H2", "总二", hq, auth.RoleHQAdmin)
	var regionPath string
	if err := d.GetContext(context.Background(), &regionPath, `SELECT path FROM org_units WHERE id = ?`, w.region); err != nil {
		t.Fatal(err)
	}
	w.camp = &attribution.Campaign{ID: 1, Start: t0.AddDate(0, 0, -30), End: t0.AddDate(0, 1, 0), Location: time.UTC,
		UnitPaths: []string{regionPath}, Counts: map[string]int64{"account_opened": 0}, Settings: set}
	hasher := pii.NewHasher([]byte("k"))
	bank := attribution.Bank{Org: org.NewStore(d.Dialect), HashKey: []byte("k")}
	cust := &customer.Service{Store: customer.Store{Dialect: d.Dialect}, Hasher: hasher, Tokens: bank}
	w.svc = attribution.NewService(d, w.clk, cust, fakeCampaigns{w.camp}, bank, bank)
	w.orgSvc = org.NewService(d, w.clk, hasher, time.UTC)
	return w
}

func ptr[T any](v T) *T { return &v }

func (w *world) touch(t *testing.T, ext, emp string, at time.Time, who customer.Identifiers) {
	t.Helper()
	_, _, err := w.svc.RecordTouch(context.Background(), attribution.TouchInput{Source: "callcenter", ExternalID: ext, Customer: who,
		StaffEmployeeNo: emp, Channel: "remote", Kind: "call", OccurredAt: &at}, "test")
	if err != nil {
		t.Fatalf("touch %s: %v", ext, err)
	}
}

func (w *world) convert(t *testing.T, ext string, amount int64, at time.Time, who customer.Identifiers) attribution.ConversionView {
	t.Helper()
	v, _, err := w.svc.Record(context.Background(), conv(ext, amount, at, who), "test")
	if err != nil {
		t.Fatalf("conversion %s: %v", ext, err)
	}
	return v
}

func conv(ext string, amount int64, at time.Time, who customer.Identifiers) attribution.ConversionInput {
	return attribution.ConversionInput{Source: "core", ExternalID: ext, Type: "account_opened", Customer: who,
		AmountFen: &amount, Channel: "offline", OccurredAt: &at}
}

// fenByStaff sums the live credits of a conversion per staff id.
func fenByStaff(v attribution.ConversionView) map[int64]int64 {
	out := map[int64]int64{}
	for _, a := range v.Attributions {
		for _, c := range a.Credits {
			out[c.StaffID] += c.CreditedFen
		}
	}
	return out
}

func mustCheck(t *testing.T, d *db.DB) {
	t.Helper()
	rep, err := attribution.Check(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK {
		t.Fatalf("check: %+v", rep)
	}
}

var day = 24 * time.Hour

func TestConversionIsAttributedAndIdempotent(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d, attribution.Settings{Model: attribution.Linear})
		cust := customer.Identifiers{CustomerID: "C1"}
		w.touch(t, "t1", "A", t0.Add(-3*day), cust)
		w.touch(t, "t2", "B", t0.Add(-day), cust)
		w.touch(t, "t3", "A", t0.Add(-2*day), cust)
		v := w.convert(t, "x1", 1000, t0, cust)
		// linear over A, B, A: A 2/3 = 666.67, B 333.33 → A 667, B 333.
		if diff := cmp.Diff(map[int64]int64{w.a: 667, w.b: 333}, fenByStaff(v)); diff != "" {
			t.Fatalf("credits (-want +got):\n%s", diff)
		}
		cr := v.Attributions[0].Credits[0]
		if cr.Chain.TeamID != w.tm1 || cr.Chain.SubbranchID != w.sub || cr.Chain.BranchID != w.branch || cr.Chain.RegionID != w.region {
			t.Fatalf("chain = %+v", cr.Chain)
		}
		again, created, err := w.svc.Record(context.Background(), conv("x1", 1000, t0, cust), "test")
		if err != nil || created || again.ID != v.ID {
			t.Fatalf("repeat: created %v id %d err %v", created, again.ID, err)
		}
		_, _, err = w.svc.Record(context.Background(), conv("x1", 999, t0, cust), "test")
		if !errors.Is(err, attribution.ErrKeyReused) {
			t.Fatalf("reuse with another payload: %v", err)
		}
		_, _, err = w.svc.Record(context.Background(), conv("x2", 1, t0.Add(5*time.Minute+time.Second), cust), "test")
		if !errors.Is(err, attribution.ErrFutureTime) {
			t.Fatalf("future: %v", err)
		}
		mustCheck(t, d)
	})
}

func TestConcurrentDuplicatesGiveOneConversion(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d, attribution.Settings{Model: attribution.Linear})
		cust := customer.Identifiers{CustomerID: "C1", Phone: "13800138000"}
		w.touch(t, "t1", "A", t0.Add(-3*day), cust)
		w.touch(t, "t2", "B", t0.Add(-day), cust)
		var wg sync.WaitGroup
		ids := make([]int64, 8)
		errs := make([]error, 8)
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				v, _, err := w.svc.Record(context.Background(), conv("dup", 1001, t0, cust), "test")
				ids[i], errs[i] = v.ID, err
			}()
		}
		wg.Wait()
		for i := range 8 {
			if errs[i] != nil || ids[i] != ids[0] {
				t.Fatalf("submission %d: id %d err %v (first id %d)", i, ids[i], errs[i], ids[0])
			}
		}
		var convs, credits int
		_ = d.GetContext(context.Background(), &convs, `SELECT COUNT(*) FROM conversions`)
		_ = d.GetContext(context.Background(), &credits, `SELECT COUNT(*) FROM credits`)
		if convs != 1 || credits != 2 {
			t.Fatalf("conversions %d credits %d, want 1 and 2", convs, credits)
		}
		mustCheck(t, d)
	})
}

func TestTransferAfterConversionKeepsChain(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d, attribution.Settings{})
		cust := customer.Identifiers{CustomerID: "C1"}
		w.touch(t, "t1", "A", t0.Add(-day), cust)
		x1 := w.convert(t, "x1", 500, t0, cust)
		hq := auth.Principal{StaffID: w.h1, Roles: []auth.Role{auth.RoleHQAdmin}}
		w.clk.Set(t0.Add(time.Hour))
		if _, err := w.orgSvc.TransferStaff(context.Background(), hq, w.a, org.Transfer{UnitID: w.tm2}); err != nil {
			t.Fatal(err)
		}
		w.clk.Set(t0.Add(3 * time.Hour))
		// a late touch re-attributes x1: the chain is still the one at t0.
		w.touch(t, "t0", "A", t0.Add(-2*day), cust)
		v2 := w.convert(t, "x2", 700, t0.Add(2*time.Hour), cust)
		v1, err := w.svc.Conversion(context.Background(), hq, x1.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got := v1.Attributions[0].Credits[0].Chain.TeamID; got != w.tm1 {
			t.Fatalf("x1 credited to team %d, want the old team %d", got, w.tm1)
		}
		if got := v2.Attributions[0].Credits[0].Chain.TeamID; got != w.tm2 {
			t.Fatalf("x2 credited to team %d, want the new team %d", got, w.tm2)
		}
		mustCheck(t, d)
	})
}

func TestLateTouchReattributes(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d, attribution.Settings{Model: attribution.LastTouch})
		cust := customer.Identifiers{CustomerID: "C1"}
		w.touch(t, "t1", "A", t0.Add(-3*day), cust)
		v := w.convert(t, "x1", 800, t0, cust)
		if diff := cmp.Diff(map[int64]int64{w.a: 800}, fenByStaff(v)); diff != "" {
			t.Fatal(diff)
		}
		w.clk.Set(t0.Add(day))
		w.touch(t, "t2", "B", t0.Add(-day), cust) // arrives late, happened before x1
		hq := auth.Principal{StaffID: w.h1, Roles: []auth.Role{auth.RoleHQAdmin}}
		v, _ = w.svc.Conversion(context.Background(), hq, v.ID)
		if diff := cmp.Diff(map[int64]int64{w.b: 800}, fenByStaff(v)); diff != "" {
			t.Fatalf("after late touch (-want +got):\n%s", diff)
		}
		if v.Attributions[0].Version != 2 {
			t.Fatalf("version %d", v.Attributions[0].Version)
		}
		es, _ := audit.List(context.Background(), d, audit.Filter{EntityType: "conversion"})
		if len(es) == 0 || es[0].Action != "attribution.reattribute" {
			t.Fatalf("audit: %+v", es)
		}
		mustCheck(t, d)
	})
}

func TestTransitiveIdentity(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d, attribution.Settings{Model: attribution.Linear})
		w.touch(t, "t1", "A", t0.Add(-3*day), customer.Identifiers{VisitorID: "v1"})
		w.touch(t, "t2", "C", t0.Add(-2*day), customer.Identifiers{OpenID: "o1"})
		v := w.convert(t, "x1", 100, t0, customer.Identifiers{CustomerID: "C1"})
		if len(fenByStaff(v)) != 0 {
			t.Fatalf("no touches known yet, got %v", fenByStaff(v))
		}
		ctx := context.Background()
		if _, err := w.svc.LinkIdentities(ctx, attribution.IdentityInput{Source: "app", Identifiers: customer.Identifiers{VisitorID: "v1", OpenID: "o1"}}, "test"); err != nil {
			t.Fatal(err)
		}
		if _, err := w.svc.LinkIdentities(ctx, attribution.IdentityInput{Source: "app", Identifiers: customer.Identifiers{OpenID: "o1", CustomerID: "C1"}}, "test"); err != nil {
			t.Fatal(err)
		}
		hq := auth.Principal{StaffID: w.h1, Roles: []auth.Role{auth.RoleHQAdmin}}
		v, _ = w.svc.Conversion(ctx, hq, v.ID)
		if diff := cmp.Diff(map[int64]int64{w.a: 50, w.c: 50}, fenByStaff(v)); diff != "" {
			t.Fatalf("after the links (-want +got):\n%s", diff)
		}
		mustCheck(t, d)
	})
}

func TestReversal(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d, attribution.Settings{Model: attribution.Linear})
		cust := customer.Identifiers{CustomerID: "C1"}
		w.touch(t, "t1", "A", t0.Add(-3*day), cust)
		w.touch(t, "t2", "B", t0.Add(-day), cust)
		v := w.convert(t, "x1", 101, t0, cust) // A 51, B 50
		ctx := context.Background()
		w.clk.Set(t0.Add(day))
		r1 := attribution.ReversalInput{ExternalID: "r1", AmountFen: ptr[int64](31), Reason: "partial redemption"}
		got, err := w.svc.Reverse(ctx, v.ID, r1, "test")
		if err != nil {
			t.Fatal(err)
		}
		// 31 × 51/101 = 15.65, × 50/101 = 15.35 → 15 + 15, +1 to A (.65).
		if diff := cmp.Diff(map[int64]int64{w.a: 35, w.b: 35}, fenByStaff(got)); diff != "" {
			t.Fatalf("after partial reversal (-want +got):\n%s", diff)
		}
		if again, err := w.svc.Reverse(ctx, v.ID, r1, "test"); err != nil || again.ReversedFen != 31 {
			t.Fatalf("repeat: reversed %d err %v", again.ReversedFen, err)
		}
		if _, err := w.svc.Reverse(ctx, v.ID, attribution.ReversalInput{ExternalID: "r2", AmountFen: ptr[int64](71)}, "test"); !errors.Is(err, attribution.ErrReversalTooBig) {
			t.Fatalf("over-reversal: %v", err)
		}
		got, err = w.svc.Reverse(ctx, v.ID, attribution.ReversalInput{ExternalID: "r3", Reason: "card cancelled"}, "test")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(map[int64]int64{w.a: 0, w.b: 0}, fenByStaff(got)); diff != "" {
			t.Fatalf("after full reversal (-want +got):\n%s", diff)
		}
		for _, c := range got.Attributions[0].Credits {
			if c.Kind == "reversal" && c.CreditedFen > 0 {
				t.Fatalf("positive reversal %+v", c)
			}
		}
		// a late touch re-attributes and re-applies the reversals.
		w.touch(t, "t3", "C", t0.Add(-2*day), cust)
		got, _ = w.svc.Conversion(ctx, auth.Principal{Roles: []auth.Role{auth.RoleHQAdmin}}, v.ID)
		if diff := cmp.Diff(map[int64]int64{w.a: 0, w.b: 0, w.c: 0}, fenByStaff(got)); diff != "" {
			t.Fatalf("after re-attribution (-want +got):\n%s", diff)
		}
		mustCheck(t, d)
	})
}

func TestProtectionPeriod(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d, attribution.Settings{Model: attribution.LastTouch, ProtectionDays: 10})
		cust := customer.Identifiers{CustomerID: "C1"}
		w.touch(t, "t1", "A", t0.Add(-day), cust)
		w.convert(t, "x1", 100, t0, cust) // A; protection until t0 + 10 d
		w.clk.Set(t0.Add(20 * day))
		w.touch(t, "t2", "B", t0.Add(day), cust)
		x2 := w.convert(t, "x2", 200, t0.Add(2*day), cust) // inside: A
		w.touch(t, "t3", "C", t0.Add(9*day), cust)
		x3 := w.convert(t, "x3", 300, t0.Add(10*day), cust)             // still inside (not extended by x2): A
		x4 := w.convert(t, "x4", 400, t0.Add(10*day+time.Second), cust) // over: last touch C
		for _, tc := range []struct {
			v    attribution.ConversionView
			want map[int64]int64
		}{{x2, map[int64]int64{w.a: 200}}, {x3, map[int64]int64{w.a: 300}}, {x4, map[int64]int64{w.c: 400}}} {
			if diff := cmp.Diff(tc.want, fenByStaff(tc.v)); diff != "" {
				t.Errorf("%s (-want +got):\n%s", tc.v.ExternalID, diff)
			}
		}
		if x2.Attributions[0].Rule != attribution.RuleProtection {
			t.Fatalf("x2 rule %s", x2.Attributions[0].Rule)
		}
		mustCheck(t, d)
	})
}

func TestDisputeNeedsSecondPerson(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d, attribution.Settings{})
		cust := customer.Identifiers{CustomerID: "C1"}
		w.touch(t, "t1", "A", t0.Add(-day), cust)
		v := w.convert(t, "x1", 100, t0, cust)
		ctx := context.Background()
		var path string
		_ = d.GetContext(ctx, &path, `SELECT path FROM org_units WHERE id = ?`, w.branch)
		mgr := auth.Principal{StaffID: w.m, EmployeeNo: "M", Roles: []auth.Role{auth.RoleManager}, UnitPath: path}
		h1 := auth.Principal{StaffID: w.h1, EmployeeNo: "H1", Roles: []auth.Role{auth.RoleHQAdmin}}
		h2 := auth.Principal{StaffID: w.h2, EmployeeNo: "H2", Roles: []auth.Role{auth.RoleHQAdmin}}
		dp, err := w.svc.Propose(ctx, h1, v.ID, attribution.DisputeInput{CampaignID: 1, FromStaffID: w.a, ToStaffID: w.c, Reason: "C opened the account"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.svc.Decide(ctx, h1, dp.ID, true, ""); !errors.Is(err, attribution.ErrOwnProposal) {
			t.Fatalf("own approval: %v", err)
		}
		if _, err := w.svc.Decide(ctx, mgr, dp.ID, true, ""); apperr.KindOf(err) != apperr.Forbidden {
			t.Fatalf("manager approval: %v", err)
		}
		dm, err := w.svc.Propose(ctx, mgr, v.ID, attribution.DisputeInput{CampaignID: 1, FromStaffID: w.a, ToStaffID: w.b, Reason: "B did the work"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.svc.Decide(ctx, h2, dm.ID, true, "agreed"); err != nil {
			t.Fatal(err)
		}
		ex, err := w.svc.Explain(ctx, h1, v.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(map[int64]int64{w.b: 100}, fenByStaff(ex.Conversion)); diff != "" {
			t.Fatalf("after approval (-want +got):\n%s", diff)
		}
		if len(ex.Campaigns[0].Moves) != 1 || len(ex.Campaigns[0].Disputes) != 2 {
			t.Fatalf("explanation moves %v disputes %v", ex.Campaigns[0].Moves, ex.Campaigns[0].Disputes)
		}
		if _, err := w.svc.Decide(ctx, h2, dm.ID, false, ""); !errors.Is(err, attribution.ErrDisputeDecided) {
			t.Fatalf("second decision: %v", err)
		}
		mustCheck(t, d)
	})
}

func TestFrozenCampaignRecordsAdjustment(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d, attribution.Settings{})
		cust := customer.Identifiers{CustomerID: "C1"}
		w.touch(t, "t1", "A", t0.Add(-3*day), cust)
		v := w.convert(t, "x1", 100, t0, cust)
		w.camp.FreezeAt = t0.Add(day)
		w.clk.Set(t0.Add(2 * day))
		w.touch(t, "t2", "B", t0.Add(-day), cust)
		ex, err := w.svc.Explain(context.Background(), auth.Principal{Roles: []auth.Role{auth.RoleAuditor}}, v.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(map[int64]int64{w.a: 100}, fenByStaff(ex.Conversion)); diff != "" {
			t.Fatalf("frozen credits changed (-want +got):\n%s", diff)
		}
		adj := map[int64]int64{}
		for _, a := range ex.Campaigns[0].Adjustments {
			adj[a.StaffID] = a.CreditedFen
		}
		if diff := cmp.Diff(map[int64]int64{w.a: -100, w.b: 100}, adj); diff != "" {
			t.Fatalf("adjustments (-want +got):\n%s", diff)
		}
		mustCheck(t, d)
	})
}

func TestOutOfOrderConversionsGiveInOrderCredits(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d, attribution.Settings{Model: attribution.LastTouch, ProtectionDays: 10})
		cust := customer.Identifiers{CustomerID: "C1"}
		w.clk.Set(t0.Add(5 * day))
		w.touch(t, "t1", "A", t0.Add(-day), cust)
		w.touch(t, "t2", "B", t0.Add(day), cust)
		x2 := w.convert(t, "x2", 200, t0.Add(2*day), cust) // alone: last touch B
		if diff := cmp.Diff(map[int64]int64{w.b: 200}, fenByStaff(x2)); diff != "" {
			t.Fatal(diff)
		}
		w.convert(t, "x1", 100, t0, cust) // earlier: A, protection over x2
		x2, _ = w.svc.Conversion(context.Background(), auth.Principal{Roles: []auth.Role{auth.RoleAuditor}}, x2.ID)
		if diff := cmp.Diff(map[int64]int64{w.a: 200}, fenByStaff(x2)); diff != "" {
			t.Fatalf("x2 after x1 arrived (-want +got):\n%s", diff)
		}
		mustCheck(t, d)
	})
}

func TestWhatIfAndCampaignReattribution(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d, attribution.Settings{Model: attribution.LastTouch})
		cust := customer.Identifiers{CustomerID: "C1"}
		w.touch(t, "t1", "A", t0.Add(-2*day), cust)
		w.touch(t, "t2", "B", t0.Add(-day), cust)
		x1 := w.convert(t, "x1", 100, t0, cust)
		ctx := context.Background()
		cm := auth.Principal{StaffID: w.h1, EmployeeNo: "H1", Roles: []auth.Role{auth.RoleCampaignManager}}
		rep, err := w.svc.WhatIf(ctx, cm, w.camp.ID, attribution.Settings{Model: attribution.FirstTouch})
		if err != nil {
			t.Fatal(err)
		}
		got := map[int64][2]int64{}
		for _, r := range rep.Staff {
			got[r.StaffID] = [2]int64{r.LiveFen, r.NewFen}
		}
		if diff := cmp.Diff(map[int64][2]int64{w.a: {0, 100}, w.b: {100, 0}}, got); diff != "" || rep.Changed != 1 {
			t.Fatalf("what-if (-want +got):\n%s changed %d", diff, rep.Changed)
		}
		var live int64
		_ = d.GetContext(ctx, &live, `SELECT credited_fen FROM credits WHERE staff_id = ?`, w.b)
		if live != 100 {
			t.Fatal("what-if changed live credits")
		}
		w.camp.Settings.Model = attribution.FirstTouch
		if n, err := w.svc.ReattributeCampaign(ctx, cm, w.camp.ID); err != nil || n != 1 {
			t.Fatalf("reattribute: %d %v", n, err)
		}
		v, err := w.svc.Conversion(ctx, auth.Principal{Roles: []auth.Role{auth.RoleAuditor}}, x1.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(map[int64]int64{w.a: 100}, fenByStaff(v)); diff != "" {
			t.Fatal(diff)
		}
		mustCheck(t, d)
	})
}
