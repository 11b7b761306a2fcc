package rewards_test

import (
	"context"
	"testing"

	"rmref/internal/audit"
	"rmref/internal/auth"
	"rmref/internal/clock"
	"rmref/internal/db"
	"rmref/internal/dbtest"
	"rmref/rewards"
)

func TestPerkMakerChecker(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		clk := clock.NewManual(sh(2026, 1, 1, 9, 0, 0))
		svc := rewards.NewPerkService(d, clk)
		staff := auth.Principal{StaffID: 9, EmployeeNo: "S9", Roles: []auth.Role{auth.RoleStaff}}
		in := rewards.PerkProgrammeInput{Name: "Coffee", Template: "coffee", Product: product, StartDate: "2026-01-01"}
		_, err := svc.CreateProgramme(ctx, staff, in)
		wantSlug(t, err, "forbidden")
		bad := in
		bad.StartDate = "1 Jan"
		_, err = svc.CreateProgramme(ctx, cm1, bad)
		if !containsField(err, "start_date") {
			t.Fatalf("bad start date: %v", err)
		}
		ghost := int64(999)
		linked := in
		linked.CampaignID = &ghost
		_, err = svc.CreateProgramme(ctx, cm1, linked)
		if !containsField(err, "campaign_id") {
			t.Fatalf("unknown campaign: %v", err)
		}
		p, err := svc.CreateProgramme(ctx, cm1, in)
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "status", p.Status, "proposed")
		_, err = svc.ApproveVersion(ctx, cm1, p.ID, 1)
		wantSlug(t, err, "self_approval")
		_, err = svc.ApproveVersion(ctx, staff, p.ID, 1)
		wantSlug(t, err, "forbidden")
		clk.Set(sh(2026, 1, 2, 9, 0, 0))
		p, err = svc.ApproveVersion(ctx, cm2, p.ID, 1)
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "status", p.Status, "active")
		eq(t, "effective at the approval", p.Versions[0].EffectiveAt.Equal(sh(2026, 1, 2, 9, 0, 0)), true)
		_, err = svc.ApproveVersion(ctx, cm2, p.ID, 1)
		wantSlug(t, err, "invalid_transition")
		entries, err := audit.List(ctx, d, audit.Filter{EntityType: "perk_programme"})
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "audit", []string{entries[0].Action + " " + entries[0].Actor, entries[1].Action + " " + entries[1].Actor},
			[]string{"perk_programme.approve staff:CM2", "perk_programme.create staff:CM1"})
	})
}

func TestPerkVersionsApplyForward(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		f.clk.Set(sh(2026, 2, 1, 0, 0, 0))
		f.approve("old", "oldc", sh(2026, 1, 10, 9, 0, 0), "gold", true, true)
		f.buy("", "old", "oldc", sh(2026, 1, 31, 9, 0, 0), 9900) // qualifies under v1: claim window 30 days
		cfg := rewards.CoffeeTemplate(product, "2026-01-01", "2027-12-31")
		cfg.Rules[0].MinAmountFen, cfg.Rules[0].ClaimDays = 5000, 10
		_, err := f.svc.ProposeVersion(ctx, cm2, f.pid, rewards.PerkVersionInput{Config: &cfg, EffectiveFrom: sh(2026, 3, 1, 0, 0, 0)})
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.ApproveVersion(ctx, cm2, f.pid, 2)
		wantSlug(t, err, "self_approval")
		hq := auth.Principal{StaffID: 3, EmployeeNo: "HQ1", Roles: []auth.Role{auth.RoleHQAdmin}}
		p, err := f.svc.ApproveVersion(ctx, hq, f.pid, 2)
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "v2 effective", p.Versions[1].EffectiveAt.Equal(sh(2026, 3, 1, 0, 0, 0)), true)
		f.clk.Set(sh(2028, 6, 1, 0, 0, 0))
		f.approve("before", "beforec", sh(2026, 2, 1, 9, 0, 0), "gold", true, true)
		f.buy("", "before", "beforec", sh(2026, 2, 28, 23, 0, 0), 6000) // 60 yuan under v1: nothing
		f.approve("after", "afterc", sh(2026, 2, 1, 9, 0, 0), "gold", true, true)
		f.buy("", "after", "afterc", sh(2026, 3, 1, 0, 0, 0), 6000) // 60 yuan under v2: qualifies
		eq(t, "before", keys(f.ledger("before", sh(2026, 3, 2, 0, 0, 0))), []string(nil))
		a := f.ledger("after", sh(2026, 3, 2, 0, 0, 0))
		eq(t, "after", keys(a), []string{"welcome:claimable"})
		eq(t, "after version and window", []any{a.Grants[0].Version, a.Grants[0].ClaimBy}, []any{2, "2026-03-10"})
		o := f.ledger("old", sh(2026, 3, 2, 0, 0, 0))
		eq(t, "grant made under v1 keeps its terms", []any{o.Grants[0].Version, o.Grants[0].ClaimBy, o.Grants[0].State}, []any{1, "2026-03-01", "lapsed"})
		o = f.ledger("old", sh(2026, 3, 1, 12, 0, 0))
		eq(t, "on its last day", o.Grants[0].State, rewards.StateClaimable)
	})
}
