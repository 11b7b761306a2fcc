package demo

import (
	"context"
	"net/http"
	"strconv"
	"testing"

	"rmref/campaign"
	"rmref/internal/qrtest"
	"rmref/internal/testapp"
)

func TestDemoCampaign(t *testing.T) {
	testapp.Each(t, testapp.Options{}, func(t *testing.T, a *testapp.App) {
		ctx := context.Background()
		o, err := seedOrg(ctx, a.App)
		if err != nil {
			t.Fatal(err)
		}
		first, err := seedCampaign(ctx, a.App, o)
		if err != nil {
			t.Fatal(err)
		}
		again, err := seedCampaign(ctx, a.App, o)
		if err != nil || again != first {
			t.Fatalf("second seed: %+v, %v (first %+v)", again, err, first)
		}
		c, err := campaign.Get(ctx, a.DB, first.ID)
		if err != nil {
			t.Fatal(err)
		}
		now := a.Clock.Now()
		if !c.LiveAt(now) || c.Name != "2026 冬季开卡季" || len(c.Units) != 1 || c.Units[0].ID != o.HQ {
			t.Fatalf("demo campaign %+v not live over the bank at %s", c, now)
		}
		for _, tc := range []struct {
			typ    string
			amount int64
			want   bool
		}{{"account_opened", 0, true}, {"card_approved", 0, true}, {"wealth_purchase", 10000, true}, {"wealth_purchase", 9999, false}, {"loan_applied", 1e6, false}} {
			if ok, _ := c.Counts(tc.typ, tc.amount); ok != tc.want {
				t.Errorf("Counts(%s, %d) = %v", tc.typ, tc.amount, ok)
			}
		}
		var path string
		_ = a.DB.GetContext(ctx, &path, `SELECT u.path FROM staff s JOIN org_units u ON u.id = s.unit_id WHERE s.id = ?`, o.StaffMember)
		if cs, _ := campaign.ForUnitPath(ctx, a.DB, path, now); len(cs) != 1 || cs[0].ID != c.ID {
			t.Fatalf("the demo staff member's campaigns: %+v", cs)
		}
		res := a.Do("GET", "/api/v1/campaigns/"+strconv.FormatInt(c.ID, 10)+"/poster-preview.png", a.Token(o.StaffMember), nil)
		if res.Status != http.StatusOK {
			t.Fatalf("preview: %d %s", res.Status, res.Body)
		}
		if _, err := qrtest.Decode(res.Body); err != nil {
			t.Fatalf("demo poster preview does not decode: %v", err)
		}
	})
}
