package demo

import (
	"context"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"rmref/internal/testapp"
	"rmref/rewards"
)

// TestDemoPerks seeds the coffee programme twice (idempotent) and checks
// that perks?at= shows grants in every state across the demo cardholders.
func TestDemoPerks(t *testing.T) {
	testapp.Each(t, testapp.Options{Now: time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)}, func(t *testing.T, a *testapp.App) {
		ctx := context.Background()
		o, err := seedOrg(ctx, a.App)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 2; i++ {
			if err := seedPerks(ctx, a.App, o); err != nil {
				t.Fatalf("seed %d: %v", i+1, err)
			}
		}
		ps, _, err := rewards.NewPerkService(a.DB, a.Clock).Programmes(ctx, 0, 10)
		if err != nil || len(ps) != 1 || ps[0].Status != "active" || ps[0].Versions[0].Config.StartDate != "2026-07-06" {
			t.Fatalf("programmes: %+v, %v", ps, err)
		}
		tok := a.Token(o.Auditor)
		states := map[string]bool{}
		byCust := map[string][]string{}
		for _, c := range []string{"D001", "D002", "D003", "D004", "D005", "D006"} {
			res := a.Do("GET", "/api/v1/cardholders/"+c+"/perks?at=2026-11-23", tok, nil) // day 140: the clock's date
			if res.Status != http.StatusOK {
				t.Fatalf("%s: %d %s", c, res.Status, res.Body)
			}
			var out struct {
				Programmes []rewards.PerkLedger `json:"programmes"`
			}
			res.JSON(t, &out)
			for _, g := range out.Programmes[0].Grants {
				states[g.State] = true
				byCust[c] = append(byCust[c], g.Rule+":"+g.State)
				for _, cp := range g.CouponList {
					states["coupon "+cp.State] = true
				}
			}
			if c == "D001" && out.Programmes[0].Map.Stage < 2 {
				t.Errorf("D001 map %+v", out.Programmes[0].Map)
			}
		}
		var got []string
		for s := range states {
			got = append(got, s)
		}
		sort.Strings(got)
		want := "claimable coupon claimed coupon effective coupon expired coupon redeemed effective expired lapsed redeemed"
		if strings.Join(got, " ") != want {
			t.Errorf("states = %v, want %s", got, want)
		}
		if byCust["D002"][0] != "welcome:claimable" || byCust["D003"][0] != "welcome:lapsed" || byCust["D004"][0] != "weekly:redeemed" || len(byCust["D005"]) != 0 {
			t.Errorf("grants: %v", byCust)
		}
	})
}
