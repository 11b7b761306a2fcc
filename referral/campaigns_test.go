package referral_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"rmref/campaign"
	"rmref/internal/auth"
	"rmref/internal/clock"
	"rmref/internal/db"
	"rmref/internal/dbtest"
	"rmref/internal/testapp"
	"rmref/referral"
)

// TestCampaignsOf: a general code binds in every live campaign covering
// the staff member's unit, a campaign code in its own, a revoked code in
// none.
func TestCampaignsOf(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := testapp.NewSeeder(t, d)
		hq := s.Unit("hq", "HQ", "总行", 0)
		br := s.Unit("branch", "B1", "朝阳支行", hq)
		other := s.Unit("branch", "B2", "海淀支行", hq)
		staff := s.Staff("E1", "张三明", br)
		admin, err := auth.LoadStaffPrincipal(ctx, d, s.Staff("A1", "钱总", hq, auth.RoleHQAdmin), 0)
		if err != nil {
			t.Fatal(err)
		}
		clk := clock.NewManual(t0)
		cs := campaign.NewService(d, clk, []string{"m.example-bank.cn"})
		mk := func(code string, unit int64, activate bool) int64 {
			name, landing := code, "https://m.example-bank.cn/"+code
			start, end := t0.Add(-time.Hour), t0.Add(30*24*time.Hour)
			units, convs := []int64{unit}, []campaign.ConversionRule{{Type: "card_approved"}}
			c, err := cs.Create(ctx, admin, campaign.Patch{Code: &code, Name: &name, StartAt: &start, EndAt: &end,
				LandingURL: &landing, UnitIDs: &units, Conversions: &convs})
			if err != nil {
				t.Fatal(err)
			}
			if activate {
				if _, err := cs.Transition(ctx, admin, c.ID, campaign.StatusActive); err != nil {
					t.Fatal(err)
				}
			}
			return c.ID
		}
		bankWide, branchOnly := mk("bank-wide", hq, true), mk("branch-only", br, true)
		mk("elsewhere", other, true)
		mk("draft", hq, false)
		svc := referral.NewService(d, clk, referral.CampaignStore{DB: d}, referral.Config{HashKey: []byte("k-0123456789abcdef")})
		defer svc.Close(ctx)
		general, err := svc.CodeFor(ctx, staff, 0)
		if err != nil {
			t.Fatal(err)
		}
		got, err := referral.CampaignsOf(ctx, d, general, t0)
		if err != nil || fmt.Sprint(got) != fmt.Sprint([]int64{bankWide, branchOnly}) {
			t.Fatalf("general code binds in %v (%v), want [%d %d]", got, err, bankWide, branchOnly)
		}
		code, err := svc.CodeFor(ctx, staff, branchOnly)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := referral.CampaignsOf(ctx, d, code, t0); fmt.Sprint(got) != fmt.Sprint([]int64{branchOnly}) {
			t.Fatalf("campaign code binds in %v", got)
		}
		if _, err := svc.CodeFor(ctx, staff, mk("elsewhere-2", other, true)); err == nil {
			t.Fatal("a code for a campaign that does not cover the staff member's unit")
		}
		clk.Advance(time.Minute)
		if _, err := svc.Revoke(ctx, admin, general.Code); err != nil {
			t.Fatal(err)
		}
		revoked, _ := referral.LookupCode(ctx, d, general.Code)
		if got, _ := referral.CampaignsOf(ctx, d, revoked, clk.Now()); len(got) != 0 {
			t.Fatalf("revoked code binds in %v", got)
		}
		if got, _ := referral.CampaignsOf(ctx, d, revoked, t0); len(got) != 2 {
			t.Fatalf("before its revocation the code bound in %v", got)
		}
	})
}
