package demo

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"rmref/internal/testapp"
	"rmref/rewards"
)

// TestDemoIncentives seeds the incentive plan and credits twice
// (idempotent) and checks that the printed staff member has approved and
// pending earnings, and the campaign a budget partly used.
func TestDemoIncentives(t *testing.T) {
	testapp.Each(t, testapp.Options{Now: time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)}, func(t *testing.T, a *testapp.App) {
		ctx := context.Background()
		o, err := seedOrg(ctx, a.App)
		if err != nil {
			t.Fatal(err)
		}
		c, err := seedCampaign(ctx, a.App, o)
		if err != nil {
			t.Fatal(err)
		}
		count := func() int {
			var n int
			if err := a.DB.GetContext(ctx, &n, `SELECT COUNT(*) FROM incentive_earnings`); err != nil {
				t.Fatal(err)
			}
			return n
		}
		if err := seedIncentives(ctx, a.App, o); err != nil {
			t.Fatal(err)
		}
		first := count()
		if err := seedIncentives(ctx, a.App, o); err != nil {
			t.Fatal(err)
		}
		if n := count(); n != first || n == 0 {
			t.Fatalf("earnings %d then %d", first, n)
		}
		res := a.Do("GET", "/api/v1/me/earnings", a.Token(o.StaffMember), nil)
		var out struct {
			Items []rewards.EarningSummary `json:"items"`
		}
		res.JSON(t, &out)
		if res.Status != http.StatusOK || len(out.Items) != 1 || out.Items[0].ApprovedFen <= 0 || out.Items[0].PendingFen <= 0 {
			t.Fatalf("earnings: %d %s", res.Status, res.Body)
		}
		sum := a.Do("GET", "/api/v1/incentive-summaries/"+strconv.FormatInt(c.ID, 10), a.Token(o.HQAdmin), nil).Map(t)
		if sum["budget_fen"].(float64) != 500000 || sum["used_fen"].(float64) <= 0 || sum["left_fen"].(float64) <= 0 {
			t.Fatalf("summary: %v", sum)
		}
	})
}
