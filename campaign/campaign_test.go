package campaign_test

import (
	"context"
	"errors"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"rmref/campaign"
	"rmref/internal/apperr"
	"rmref/internal/audit"
	"rmref/internal/auth"
	"rmref/internal/clock"
	"rmref/internal/db"
	"rmref/internal/dbtest"
	"rmref/internal/poster"
	"rmref/internal/testapp"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

var (
	t0    = time.Date(2026, 11, 2, 2, 0, 0, 0, time.UTC)
	hosts = []string{"m.example-bank.cn"}
)

// org is a small tree: HQ > two regions > a branch each > a team.
type org struct {
	hq, north, south, northBranch, northTeam, southBranch int64
}

func seedOrg(t *testing.T, d *db.DB) org {
	t.Helper()
	s := testapp.NewSeeder(t, d)
	var o org
	o.hq = s.Unit("hq", "HQ", "总行", 0)
	o.north = s.Unit("region", "N", "华北区", o.hq)
	o.south = s.Unit("region", "S", "华南区", o.hq)
	o.northBranch = s.Unit("branch", "NB", "朝阳支行", o.north)
	o.northTeam = s.Unit("team", "NT", "朝阳一组", o.northBranch)
	o.southBranch = s.Unit("branch", "SB", "天河支行", o.south)
	return o
}

func unitPath(t *testing.T, d *db.DB, id int64) string {
	t.Helper()
	var p string
	if err := d.GetContext(context.Background(), &p, `SELECT path FROM org_units WHERE id = ?`, id); err != nil {
		t.Fatal(err)
	}
	return p
}

func principal(t *testing.T, d *db.DB, unit int64, roles ...auth.Role) auth.Principal {
	t.Helper()
	return auth.Principal{StaffID: unit*100 + int64(len(roles)), EmployeeNo: "E" + unitPath(t, d, unit), UnitID: unit,
		UnitPath: unitPath(t, d, unit), Roles: roles}
}

func ptr[T any](v T) *T { return &v }

func newPatch(code string, units ...int64) campaign.Patch {
	return campaign.Patch{
		Code: ptr(code), Name: ptr("2026 冬季开卡季"), StartAt: ptr(t0), EndAt: ptr(t0.Add(30 * 24 * time.Hour)),
		LandingURL: ptr("https://m.example-bank.cn/winter?src=rm"), UnitIDs: ptr(units),
		Conversions: ptr([]campaign.ConversionRule{{Type: "account_opened"}, {Type: "wealth_purchase", MinAmountFen: 10000}}),
	}
}

type env struct {
	d   *db.DB
	clk *clock.Manual
	svc *campaign.Service
	o   org
	hq  auth.Principal
}

func setup(t *testing.T, d *db.DB) env {
	clk := clock.NewManual(t0.Add(-time.Hour))
	o := seedOrg(t, d)
	return env{d: d, clk: clk, svc: campaign.NewService(d, clk, hosts), o: o, hq: principal(t, d, o.hq, auth.RoleHQAdmin)}
}

func TestCreateAndReadAPI(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := setup(t, d)
		ctx := context.Background()
		c, err := e.svc.Create(ctx, e.hq, newPatch("Winter-2026", e.o.north))
		if err != nil {
			t.Fatal(err)
		}
		if c.Code != "winter-2026" || c.Status != campaign.StatusDraft || c.Timezone != "Asia/Shanghai" {
			t.Fatalf("created %+v", c)
		}
		wantAttr := campaign.Attribution{LookbackDays: 30, Model: campaign.ModelLastTouch, HalfLifeDays: 7}
		if diff := cmp.Diff(wantAttr, c.Attribution); diff != "" || c.HoldingDays != 30 {
			t.Fatalf("defaults (-want +got):\n%s holding %d", diff, c.HoldingDays)
		}
		got, err := campaign.GetByCode(ctx, d, "WINTER-2026")
		if err != nil || got.ID != c.ID {
			t.Fatalf("GetByCode = %+v, %v", got, err)
		}
		wantUnits := []campaign.Unit{{ID: e.o.north, Path: unitPath(t, d, e.o.north), Name: "华北区"}}
		if diff := cmp.Diff(wantUnits, got.Units); diff != "" {
			t.Fatalf("units (-want +got):\n%s", diff)
		}
		live, _ := campaign.ListActiveAt(ctx, d, t0.Add(time.Hour))
		if len(live) != 0 {
			t.Fatalf("a draft is live: %+v", live)
		}
		if _, err := e.svc.Transition(ctx, e.hq, c.ID, campaign.StatusActive); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name string
			path string
			at   time.Time
			want int
		}{
			{"team inside, during", unitPath(t, d, e.o.northTeam), t0.Add(time.Hour), 1},
			{"region itself", unitPath(t, d, e.o.north), t0.Add(time.Hour), 1},
			{"other region", unitPath(t, d, e.o.southBranch), t0.Add(time.Hour), 0},
			{"hq above", unitPath(t, d, e.o.hq), t0.Add(time.Hour), 0},
			{"before start", unitPath(t, d, e.o.northTeam), t0.Add(-time.Minute), 0},
			{"at end", unitPath(t, d, e.o.northTeam), t0.Add(30 * 24 * time.Hour), 0},
			{"malformed path", "1/2", t0.Add(time.Hour), 0},
		} {
			t.Run(tc.name, func(t *testing.T) {
				cs, err := campaign.ForUnitPath(ctx, d, tc.path, tc.at)
				if err != nil || len(cs) != tc.want {
					t.Fatalf("ForUnitPath(%s) = %d campaigns, %v; want %d", tc.path, len(cs), err, tc.want)
				}
			})
		}
		live, err = campaign.ListActiveAt(ctx, d, t0.Add(time.Hour))
		if err != nil || len(live) != 1 || live[0].ID != c.ID {
			t.Fatalf("ListActiveAt = %+v, %v", live, err)
		}
		if _, err := campaign.Get(ctx, d, c.ID+100); !errors.Is(err, campaign.ErrNotFound) {
			t.Fatalf("Get(unknown) = %v", err)
		}
	})
}

func TestRules(t *testing.T) {
	c := campaign.Campaign{Status: campaign.StatusActive, StartAt: t0, EndAt: t0.Add(time.Hour),
		Units:       []campaign.Unit{{ID: 2, Path: "/1/2/"}},
		Conversions: []campaign.ConversionRule{{Type: "account_opened"}, {Type: "wealth_purchase", MinAmountFen: 10000}}}
	for _, tc := range []struct {
		typ    string
		amount int64
		ok     bool
		reason string
	}{
		{"account_opened", 0, true, ""},
		{"wealth_purchase", 10000, true, ""},
		{"wealth_purchase", 9999, false, campaign.ReasonBelowMinimum},
		{"card_approved", 0, false, campaign.ReasonTypeNotCounted},
	} {
		if ok, reason := c.Counts(tc.typ, tc.amount); ok != tc.ok || reason != tc.reason {
			t.Errorf("Counts(%s, %d) = %v %q, want %v %q", tc.typ, tc.amount, ok, reason, tc.ok, tc.reason)
		}
	}
	if !c.IncludesUnitPath("/1/2/7/") || c.IncludesUnitPath("/1/22/") || c.IncludesUnitPath("/1/") {
		t.Error("IncludesUnitPath is wrong about subtrees")
	}
	if c.StatusAt(t0.Add(time.Hour-time.Microsecond)) != campaign.StatusActive || c.StatusAt(t0.Add(time.Hour)) != campaign.StatusEnded {
		t.Error("StatusAt does not end the campaign at EndAt")
	}
	if !c.Covers(t0) || c.Covers(t0.Add(time.Hour)) || c.Covers(t0.Add(-1)) {
		t.Error("Covers is not [StartAt, EndAt)")
	}
	ended := c
	ended.Status, ended.EndedAt = campaign.StatusEnded, t0.Add(30*time.Minute)
	if ended.StatusAt(t0.Add(29*time.Minute)) != campaign.StatusActive || ended.StatusAt(t0.Add(30*time.Minute)) != campaign.StatusEnded ||
		!ended.LiveAt(t0.Add(29*time.Minute)) || ended.LiveAt(t0.Add(31*time.Minute)) {
		t.Error("an ended campaign is not live exactly before EndedAt")
	}
	if ended.CurrentStatus(t0) != campaign.StatusEnded {
		t.Error("CurrentStatus reopened an ended campaign")
	}
	c.Status = campaign.StatusDraft
	if c.StatusAt(t0.Add(2*time.Hour)) != campaign.StatusDraft {
		t.Error("a draft ended by itself")
	}
	if c.Location().String() != "UTC" {
		t.Errorf("Location of empty zone = %s", c.Location())
	}
	c.Timezone = "Asia/Shanghai"
	if c.Location().String() != "Asia/Shanghai" {
		t.Errorf("Location = %s", c.Location())
	}
}

func TestLandingURL(t *testing.T) {
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"https://m.example-bank.cn/join?x=1#top", true},
		{"https://M.Example-Bank.CN/join", true},
		{"http://m.example-bank.cn/join", false},
		{"https://evil.example.com/join", false},
		{"https://m.example-bank.cn@evil.com/", false},
		{"https://m.example-bank.cn:pw@evil.com/", false},
		{"https://evil.com/?x=m.example-bank.cn", false},
		{"https://m.example-bank.cn.evil.com/", false},
		{"//evil.com/", false},
		{"//m.example-bank.cn/", false},
		{"https:\\\\evil.com\\m.example-bank.cn", false},
		{"https://m.example-bank.cn\\@evil.com/", false},
		{"https://m.example-bank.cn:8443/", false},
		{"https://127.0.0.1/", false},
		{"https://[::1]/", false},
		{"https://m.example-bank.cn%2eevil.com/", false},
		{"javascript:alert(1)", false},
		{"HTTPS://m.example-bank.cn/", false},
		{"https://m.example-bank.cn/\nLocation: x", false},
		{"https:///m.example-bank.cn/", false},
		{"https://xn--80ak6aa92e.com/", false},
		{"", false},
	} {
		err := campaign.CheckLandingURL(tc.url, hosts)
		if (err == nil) != tc.ok {
			t.Errorf("CheckLandingURL(%q) = %v, want ok=%v", tc.url, err, tc.ok)
		}
	}
}

func TestValidation(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := setup(t, d)
		ctx := context.Background()
		for _, tc := range []struct {
			name  string
			edit  func(p *campaign.Patch)
			field string
		}{
			{"bad code", func(p *campaign.Patch) { p.Code = ptr("冬季") }, "code"},
			{"empty name", func(p *campaign.Patch) { p.Name = ptr(" ") }, "name"},
			{"end before start", func(p *campaign.Patch) { p.EndAt = ptr(t0.Add(-time.Hour)) }, "end_at"},
			{"bad zone", func(p *campaign.Patch) { p.Timezone = ptr("Mars/Base") }, "timezone"},
			{"open redirect", func(p *campaign.Patch) { p.LandingURL = ptr("https://m.example-bank.cn@evil.com/") }, "landing_url"},
			{"no units", func(p *campaign.Patch) { p.UnitIDs = ptr([]int64{}) }, "unit_ids"},
			{"unknown unit", func(p *campaign.Patch) { p.UnitIDs = ptr([]int64{e.o.north, 99999}) }, "unit_ids[1]"},
			{"bad conv type", func(p *campaign.Patch) {
				p.Conversions = ptr([]campaign.ConversionRule{{Type: "Account Opened"}})
			}, "conversion_types[0].type"},
			{"negative min", func(p *campaign.Patch) {
				p.Conversions = ptr([]campaign.ConversionRule{{Type: "account_opened", MinAmountFen: -1}})
			}, "conversion_types[0].min_amount_fen"},
			{"bad model", func(p *campaign.Patch) { p.Model = ptr(campaign.Model("u_shaped")) }, "attribution.model"},
			{"lookback zero", func(p *campaign.Patch) { p.LookbackDays = ptr(0) }, "attribution.lookback_days"},
			{"freeze before end", func(p *campaign.Patch) { p.FreezeAt = ptr(t0) }, "freeze_at"},
			{"missing code", func(p *campaign.Patch) { p.Code = nil }, "code"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				p := newPatch("valid-code", e.o.north)
				tc.edit(&p)
				_, err := e.svc.Create(ctx, e.hq, p)
				ae, ok := apperr.As(err)
				if !ok || ae.Kind != apperr.Invalid || !hasField(ae, tc.field) {
					t.Fatalf("Create = %v, want a 400 naming %s", err, tc.field)
				}
			})
		}
		var n int
		_ = d.GetContext(ctx, &n, `SELECT COUNT(*) FROM campaigns`)
		if n != 0 {
			t.Fatalf("%d campaigns stored by refused creates", n)
		}
		if _, err := e.svc.Create(ctx, e.hq, newPatch("dup", e.o.north)); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Create(ctx, e.hq, newPatch("DUP", e.o.north)); apperr.KindOf(err) != apperr.Conflict {
			t.Fatalf("duplicate code = %v", err)
		}
	})
}

func hasField(e *apperr.Error, field string) bool {
	for _, f := range e.Fields {
		if f.Field == field {
			return true
		}
	}
	return false
}

func TestTransitions(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := setup(t, d)
		ctx := context.Background()
		c, err := e.svc.Create(ctx, e.hq, newPatch("tr", e.o.north))
		if err != nil {
			t.Fatal(err)
		}
		steps := []struct {
			to     campaign.Status
			ok     bool
			status campaign.Status
		}{
			{campaign.StatusPaused, false, campaign.StatusDraft},
			{campaign.StatusEnded, false, campaign.StatusDraft},
			{campaign.StatusActive, true, campaign.StatusActive},
			{campaign.StatusActive, false, campaign.StatusActive},
			{campaign.StatusPaused, true, campaign.StatusPaused},
			{campaign.StatusPaused, false, campaign.StatusPaused},
			{campaign.StatusActive, true, campaign.StatusActive},
			{campaign.StatusPaused, true, campaign.StatusPaused},
			{campaign.StatusEnded, true, campaign.StatusEnded},
			{campaign.StatusActive, false, campaign.StatusEnded},
			{campaign.StatusPaused, false, campaign.StatusEnded},
			{campaign.StatusEnded, false, campaign.StatusEnded},
		}
		for i, s := range steps {
			got, err := e.svc.Transition(ctx, e.hq, c.ID, s.to)
			if s.ok != (err == nil) {
				t.Fatalf("step %d → %s: err = %v, want ok=%v", i, s.to, err, s.ok)
			}
			if ae, isApp := apperr.As(err); err != nil && (!isApp || ae.Type != "invalid_transition") {
				t.Fatalf("step %d: refusal %v is not invalid_transition", i, err)
			}
			cur, _ := e.svc.Get(ctx, e.hq, c.ID)
			if cur.Status != s.status || (err == nil && got.Status != s.status) {
				t.Fatalf("step %d: status %s, want %s", i, cur.Status, s.status)
			}
		}
		entries, _ := audit.List(ctx, d, audit.Filter{EntityType: "campaign", EntityID: itoa(c.ID), Limit: 100})
		var actions []string
		for i := len(entries) - 1; i >= 0; i-- {
			actions = append(actions, entries[i].Action)
		}
		want := []string{"campaign.create", "campaign.activate", "campaign.pause", "campaign.activate", "campaign.pause", "campaign.end"}
		if diff := cmp.Diff(want, actions); diff != "" {
			t.Fatalf("audit actions (-want +got):\n%s", diff)
		}
		if entries[0].Actor != e.hq.Actor() {
			t.Fatalf("audit actor %q", entries[0].Actor)
		}
	})
}

func itoa(id int64) string { return strconv.FormatInt(id, 10) }

func TestAutoEnd(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := setup(t, d)
		ctx := context.Background()
		c, _ := e.svc.Create(ctx, e.hq, newPatch("auto", e.o.north))
		if _, err := e.svc.Transition(ctx, e.hq, c.ID, campaign.StatusActive); err != nil {
			t.Fatal(err)
		}
		e.clk.Set(c.EndAt.Add(-time.Microsecond))
		if got, _ := e.svc.Get(ctx, e.hq, c.ID); got.Status != campaign.StatusActive {
			t.Fatalf("status just before the end = %s", got.Status)
		}
		e.clk.Set(c.EndAt)
		stored, _ := campaign.Get(ctx, d, c.ID)
		if stored.Status != campaign.StatusActive || stored.StatusAt(e.clk.Now()) != campaign.StatusEnded {
			t.Fatalf("derived status: stored %s, at end %s", stored.Status, stored.StatusAt(e.clk.Now()))
		}
		list, _, _, err := e.svc.List(ctx, e.hq, campaign.Filter{Status: ptr(campaign.StatusEnded)})
		if err != nil || len(list) != 1 || !list[0].EndedAt.Equal(c.EndAt) {
			t.Fatalf("List(ended) = %+v, %v", list, err)
		}
		stored, _ = campaign.Get(ctx, d, c.ID)
		if stored.Status != campaign.StatusEnded {
			t.Fatalf("auto end not persisted: %s", stored.Status)
		}
		entries, _ := audit.List(ctx, d, audit.Filter{EntityType: "campaign", EntityID: itoa(c.ID)})
		if entries[0].Action != "campaign.auto_end" || entries[0].Actor != "system" {
			t.Fatalf("last audit entry %+v", entries[0])
		}
		if _, err := e.svc.Update(ctx, e.hq, c.ID, campaign.Patch{Name: ptr("x")}); apperr.KindOf(err) != apperr.Conflict {
			t.Fatalf("editing an ended campaign = %v", err)
		}
		// Late-reported activity from before the end still finds the campaign.
		path := unitPath(t, d, e.o.northTeam)
		for _, tc := range []struct {
			at   time.Time
			want int
		}{{c.EndAt.Add(-time.Hour), 1}, {c.EndAt, 0}, {c.StartAt.Add(-time.Hour), 0}} {
			live, _ := campaign.ListActiveAt(ctx, d, tc.at)
			mine, _ := campaign.ForUnitPath(ctx, d, path, tc.at)
			if len(live) != tc.want || len(mine) != tc.want {
				t.Fatalf("at %s: ListActiveAt %d, ForUnitPath %d, want %d", tc.at, len(live), len(mine), tc.want)
			}
		}
		// A clock set back does not reopen it.
		e.clk.Set(c.EndAt.Add(-24 * time.Hour))
		if got, _ := e.svc.Get(ctx, e.hq, c.ID); got.CurrentStatus(e.clk.Now()) != campaign.StatusEnded || !got.EndedAt.Equal(c.EndAt) {
			t.Fatalf("after setting the clock back: %s ended %s", got.CurrentStatus(e.clk.Now()), got.EndedAt)
		}
		if _, err := e.svc.Transition(ctx, e.hq, c.ID, campaign.StatusPaused); apperr.KindOf(err) != apperr.Conflict {
			t.Fatalf("pausing an ended campaign on a clock set back = %v", err)
		}
		if _, err := e.svc.Transition(ctx, e.hq, c.ID, campaign.StatusActive); apperr.KindOf(err) != apperr.Conflict {
			t.Fatalf("re-activating = %v", err)
		}
	})
}

func TestScope(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := setup(t, d)
		ctx := context.Background()
		north, _ := e.svc.Create(ctx, e.hq, newPatch("north", e.o.north))
		team, _ := e.svc.Create(ctx, e.hq, newPatch("team", e.o.northTeam))
		south, _ := e.svc.Create(ctx, e.hq, newPatch("south", e.o.south))
		for _, tc := range []struct {
			name string
			p    auth.Principal
			sees []int64
		}{
			{"hq admin", e.hq, []int64{south.ID, team.ID, north.ID}},
			{"auditor", principal(t, d, e.o.southBranch, auth.RoleAuditor), []int64{south.ID, team.ID, north.ID}},
			{"staff in team", principal(t, d, e.o.northTeam, auth.RoleStaff), []int64{team.ID, north.ID}},
			{"staff in branch", principal(t, d, e.o.northBranch, auth.RoleStaff), []int64{north.ID}},
			{"manager of branch", principal(t, d, e.o.northBranch, auth.RoleManager), []int64{team.ID, north.ID}},
			{"staff in south", principal(t, d, e.o.southBranch, auth.RoleStaff), []int64{south.ID}},
			{"staff at hq", principal(t, d, e.o.hq, auth.RoleStaff), nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				cs, _, total, err := e.svc.List(ctx, tc.p, campaign.Filter{})
				if err != nil {
					t.Fatal(err)
				}
				var ids []int64
				for _, c := range cs {
					ids = append(ids, c.ID)
				}
				if diff := cmp.Diff(tc.sees, ids); diff != "" || total != int64(len(tc.sees)) {
					t.Fatalf("visible (-want +got):\n%s total %d", diff, total)
				}
				for _, id := range []int64{north.ID, team.ID, south.ID} {
					_, err := e.svc.Get(ctx, tc.p, id)
					if want := contains(tc.sees, id); want != (err == nil) {
						t.Fatalf("Get(%d) = %v, want visible=%v", id, err, want)
					}
					if err != nil && !errors.Is(err, campaign.ErrNotFound) {
						t.Fatalf("Get(%d) = %v, want not found", id, err)
					}
				}
			})
		}
		staff := principal(t, d, e.o.northTeam, auth.RoleStaff, auth.RoleManager)
		if _, err := e.svc.Transition(ctx, staff, team.ID, campaign.StatusActive); apperr.KindOf(err) != apperr.Forbidden {
			t.Fatalf("manager activating = %v, want 403", err)
		}
		if _, err := e.svc.Create(ctx, staff, newPatch("mine", e.o.northTeam)); apperr.KindOf(err) != apperr.Forbidden {
			t.Fatalf("manager creating = %v, want 403", err)
		}
		cm := principal(t, d, e.o.northBranch, auth.RoleCampaignManager)
		if _, err := e.svc.Transition(ctx, cm, team.ID, campaign.StatusActive); err != nil {
			t.Fatalf("branch campaign manager on a team campaign: %v", err)
		}
		if _, err := e.svc.Update(ctx, cm, north.ID, campaign.Patch{Name: ptr("x")}); apperr.KindOf(err) != apperr.Forbidden {
			t.Fatalf("branch campaign manager on a region campaign = %v, want 403", err)
		}
		if _, err := e.svc.Update(ctx, cm, south.ID, campaign.Patch{Name: ptr("x")}); !errors.Is(err, campaign.ErrNotFound) {
			t.Fatalf("campaign manager on an unseen campaign = %v, want 404", err)
		}
		if _, err := e.svc.Update(ctx, cm, team.ID, campaign.Patch{UnitIDs: ptr([]int64{e.o.south})}); apperr.KindOf(err) != apperr.Forbidden {
			t.Fatalf("widening beyond own subtree = %v, want 403", err)
		}
		if got, _ := campaign.Get(ctx, d, team.ID); got.Units[0].ID != e.o.northTeam || got.Name != "2026 冬季开卡季" {
			t.Fatalf("refused update changed the campaign: %+v", got)
		}
	})
}

func contains(ids []int64, id int64) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

func TestUpdate(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := setup(t, d)
		ctx := context.Background()
		c, _ := e.svc.Create(ctx, e.hq, newPatch("upd", e.o.north))
		got, err := e.svc.Update(ctx, e.hq, c.ID, campaign.Patch{
			Description: ptr("开卡送礼"), UnitIDs: ptr([]int64{e.o.north, e.o.south}),
			Model: ptr(campaign.ModelTimeDecay), HalfLifeDays: ptr(3), ProtectionDays: ptr(14),
			Conversions: ptr([]campaign.ConversionRule{{Type: "card_approved"}}),
		})
		if err != nil {
			t.Fatal(err)
		}
		if got.Description != "开卡送礼" || len(got.Units) != 2 || got.Attribution.Model != campaign.ModelTimeDecay ||
			got.Attribution.HalfLifeDays != 3 || got.Attribution.ProtectionDays != 14 || len(got.Conversions) != 1 || got.Name != c.Name {
			t.Fatalf("updated %+v", got)
		}
		if ok, _ := got.Counts("account_opened", 1); ok {
			t.Fatal("replaced conversion rule still counts")
		}
		entries, _ := audit.List(ctx, d, audit.Filter{EntityType: "campaign", EntityID: itoa(c.ID)})
		if len(entries) != 2 || entries[0].Action != "campaign.update" {
			t.Fatalf("audit %+v", entries)
		}
	})
}

func TestTemplateStore(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := setup(t, d)
		ctx := context.Background()
		c, _ := e.svc.Create(ctx, e.hq, newPatch("tpl", e.o.north))
		def, err := campaign.GetTemplate(ctx, d, c.ID)
		if err != nil || !def.IsDefault() || def.Version != campaign.DefaultTemplateVersion {
			t.Fatalf("default template %+v, %v", def, err)
		}
		if v, _ := campaign.TemplateVersion(ctx, d, c.ID); v != campaign.DefaultTemplateVersion {
			t.Fatalf("default version %q", v)
		}
		l := poster.DefaultLayout()
		l.QR.Size = 300
		up, err := e.svc.SetTemplate(ctx, e.hq, c.ID, campaign.TemplateUpload{Layout: &l})
		if err != nil || up.Version == campaign.DefaultTemplateVersion || !up.IsDefault() {
			t.Fatalf("layout-only upload %+v, %v", up, err)
		}
		got, _ := campaign.GetTemplate(ctx, d, c.ID)
		if v, _ := campaign.TemplateVersion(ctx, d, c.ID); v != up.Version || got.Layout.QR.Size != 300 {
			t.Fatalf("stored template %+v version %q", got, v)
		}
		staff := principal(t, d, e.o.northTeam, auth.RoleStaff)
		if _, err := e.svc.SetTemplate(ctx, staff, c.ID, campaign.TemplateUpload{Layout: &l}); apperr.KindOf(err) != apperr.Forbidden {
			t.Fatalf("staff upload = %v", err)
		}
		r, err := poster.New("")
		if err != nil {
			t.Skip(err)
		}
		png, err := campaign.RenderPoster(r, c, got, campaign.Poster{URL: "https://x.example/s/AAAA", StaffName: "张晓明", UnitName: "朝阳支行", Code: "AAAA"})
		if err != nil || len(png) < 1000 {
			t.Fatalf("RenderPoster: %d bytes, %v", len(png), err)
		}
	})
}

// BenchmarkForUnitPath looks up the live campaigns of a team among 300
// campaigns over 30 regions (SQLite; the per-click and per-conversion path).
func BenchmarkForUnitPath(b *testing.B) {
	d := dbtest.OpenSQLite(b)
	ctx := context.Background()
	s := testapp.NewSeeder(b, d)
	hq := s.Unit("hq", "HQ", "总行", 0)
	var teams []int64
	var regions []int64
	for i := range 30 {
		r := s.Unit("region", "R"+strconv.Itoa(i), "区", hq)
		regions = append(regions, r)
		br := s.Unit("branch", "B"+strconv.Itoa(i), "支行", r)
		teams = append(teams, s.Unit("team", "T"+strconv.Itoa(i), "组", br))
	}
	clk := clock.NewManual(t0)
	svc := campaign.NewService(d, clk, hosts)
	p := auth.Principal{StaffID: 1, EmployeeNo: "A", UnitPath: "/1/", Roles: []auth.Role{auth.RoleHQAdmin}}
	for i := range 300 {
		c, err := svc.Create(ctx, p, newPatch("bench-"+strconv.Itoa(i), regions[i%30], teams[(i+7)%30]))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := svc.Transition(ctx, p, c.ID, campaign.StatusActive); err != nil {
			b.Fatal(err)
		}
	}
	var path string
	_ = d.GetContext(ctx, &path, `SELECT path FROM org_units WHERE id = ?`, teams[3])
	at := t0.Add(time.Hour)
	for b.Loop() {
		cs, err := campaign.ForUnitPath(ctx, d, path, at)
		if err != nil || len(cs) != 20 {
			b.Fatalf("%d campaigns, %v", len(cs), err)
		}
	}
}

func TestConcurrentTransitions(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := setup(t, d)
		ctx := context.Background()
		c, _ := e.svc.Create(ctx, e.hq, newPatch("race", e.o.north))
		errs := make(chan error, 6)
		for range 6 {
			go func() {
				_, err := e.svc.Transition(ctx, e.hq, c.ID, campaign.StatusActive)
				errs <- err
			}()
		}
		won := 0
		for range 6 {
			err := <-errs
			switch {
			case err == nil:
				won++
			case apperr.KindOf(err) != apperr.Conflict:
				t.Fatalf("unexpected error %v", err)
			}
		}
		entries, _ := audit.List(ctx, d, audit.Filter{EntityType: "campaign", EntityID: itoa(c.ID)})
		if won != 1 || len(entries) != 2 {
			t.Fatalf("%d activations won, %d audit entries", won, len(entries))
		}
	})
}
