package demo

import (
	"context"
	"net/http"
	"testing"
	"time"

	"rmref/internal/auth"
	"rmref/internal/testapp"
)

// TestDemoLeads seeds the leads twice (idempotent) and checks that RMs of
// 浦东财富一组 have leads waiting and the demo call-centre client can claim.
func TestDemoLeads(t *testing.T) {
	testapp.Each(t, testapp.Options{Now: time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)}, func(t *testing.T, a *testapp.App) {
		ctx := context.Background()
		o, err := seedOrg(ctx, a.App)
		if err != nil {
			t.Fatal(err)
		}
		count := func() int {
			var n int
			if err := a.DB.GetContext(ctx, &n, `SELECT COUNT(*) FROM leads`); err != nil {
				t.Fatal(err)
			}
			return n
		}
		if err := seedLeads(ctx, a.App, o); err != nil {
			t.Fatal(err)
		}
		first := count()
		if err := seedLeads(ctx, a.App, o); err != nil {
			t.Fatal(err)
		}
		if first < 10 || count() != first {
			t.Fatalf("leads: %d after the first run, %d after the second", first, count())
		}
		var mine struct {
			Items []struct {
				Status string `json:"status"`
			} `json:"items"`
		}
		a.Do("GET", "/api/v1/me/leads?status=offered", a.Token(o.StaffMember), nil).JSON(t, &mine)
		if len(mine.Items) == 0 {
			t.Fatal("the demo staff member has no leads waiting")
		}
		var key, salt string
		if err := a.DB.QueryRowContext(ctx, `SELECT key_id, salt FROM service_clients WHERE name = ?`, demoLeadClient).Scan(&key, &salt); err != nil {
			t.Fatal(err)
		}
		res := a.DoSigned("POST", "/api/v1/leads/claim?channel=remote:call_center&limit=10", key, auth.ClientSecret([]byte(a.Config.HashKey), key, salt), nil)
		var claimed struct {
			Items []struct {
				CustomerID string `json:"customer_id"`
			} `json:"items"`
		}
		if res.Status != http.StatusOK {
			t.Fatalf("claim: %d %s", res.Status, res.Body)
		}
		res.JSON(t, &claimed)
		if len(claimed.Items) < 3 {
			t.Fatalf("the call centre claimed %d leads: %s", len(claimed.Items), res.Body)
		}
	})
}
