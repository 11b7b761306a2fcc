package server_test

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"rmref/internal/auth"
	"rmref/internal/db"
	"rmref/internal/testapp"
	"rmref/rewards"
)

// TestIncentiveAPI walks a plan through maker-checker, books a credit,
// reads the earnings as the staff member, a manager outside the subtree
// and HQ, and settles the month with an export.
func TestIncentiveAPI(t *testing.T) {
	now := time.Date(2026, 11, 2, 2, 0, 0, 0, time.UTC)
	testapp.Each(t, testapp.Options{Now: now}, func(t *testing.T, a *testapp.App) {
		s := a.Seed()
		hq := s.Unit("hq", "HQ", "总行", 0)
		br := s.Unit("branch", "SH", "上海分行", hq)
		other := s.Unit("branch", "BJ", "北京分行", hq)
		team := s.Unit("team", "T1", "一组", br)
		rm := s.Staff("E001", "张三", team)
		mgrOther := a.Token(s.Staff("M001", "赵经理", other, auth.RoleManager))
		mgr := a.Token(s.Staff("M002", "钱经理", br, auth.RoleManager))
		cm1 := a.Token(s.Staff("CM1", "策划甲", hq, auth.RoleCampaignManager))
		cm2 := a.Token(s.Staff("CM2", "策划乙", hq, auth.RoleCampaignManager))
		hq1ID, hq2ID := s.Staff("HQ1", "总部甲", hq, auth.RoleHQAdmin), s.Staff("HQ2", "总部乙", hq, auth.RoleHQAdmin)
		hq1 := a.Token(hq1ID)
		res, err := a.DB.ExecContext(context.Background(), `INSERT INTO campaigns (code, name, description, status, start_at, end_at, timezone,
landing_url, holding_days, created_at, updated_at) VALUES ('C1', '开卡季', '', 'active', 0, ?, 'Asia/Shanghai', 'https://bank.example/l', 1, 0, 0)`,
			db.Micros(now.AddDate(1, 0, 0)))
		if err != nil {
			t.Fatal(err)
		}
		cid, _ := res.LastInsertId()
		camp := strconv.FormatInt(cid, 10)

		bad := a.Do("POST", "/api/v1/incentive-plans", cm1, map[string]any{"campaign_id": camp, "rules": []any{map[string]any{"id": "b", "kind": "bounty", "currency": "cash"}}})
		if bad.Status != http.StatusBadRequest || !bytes.Contains(bad.Body, []byte(`"rules[0].amount"`)) {
			t.Fatalf("invalid plan: %d %s", bad.Status, bad.Body)
		}
		plan := a.Do("POST", "/api/v1/incentive-plans", cm1, map[string]any{"campaign_id": camp, "budget_fen": 100000,
			"rules": []any{map[string]any{"id": "b", "kind": "bounty", "currency": "cash", "amount": 1500}}})
		if plan.Status != http.StatusCreated {
			t.Fatalf("propose: %d %s", plan.Status, plan.Body)
		}
		pid := plan.Map(t)["id"].(string)
		if r := a.Do("POST", "/api/v1/incentive-plans/"+pid+"/approve", cm1, nil); r.Status != http.StatusConflict || !bytes.Contains(r.Body, []byte("/problems/self_approval")) {
			t.Fatalf("self approval: %d %s", r.Status, r.Body)
		}
		if r := a.Do("POST", "/api/v1/incentive-plans/"+pid+"/approve", cm2, nil); r.Status != http.StatusOK {
			t.Fatalf("approve: %d %s", r.Status, r.Body)
		}

		inc := rewards.NewIncentives(a.DB, a.Clock)
		ev := rewards.CreditEvent{CreditID: 1, ConversionID: 1, CampaignID: cid, StaffID: rm, ConversionType: "card_approved", Weight: rewards.WeightScale / 2,
			OccurredAt: now.Add(time.Hour), Chain: rewards.CreditChain{UnitID: team, TeamID: team, BranchID: br}}
		if err := a.DB.WithTx(context.Background(), func(tx *sqlx.Tx) error { return inc.OnCredits(context.Background(), tx, []rewards.CreditEvent{ev}) }); err != nil {
			t.Fatal(err)
		}

		me := a.Do("GET", "/api/v1/me/earnings?campaign_id="+camp, a.Token(rm), nil)
		var sums struct {
			Items []rewards.EarningSummary `json:"items"`
		}
		me.JSON(t, &sums)
		if me.Status != http.StatusOK || len(sums.Items) != 1 || sums.Items[0].PendingFen != 750 {
			t.Fatalf("me/earnings: %d %s", me.Status, me.Body)
		}
		lines := a.Do("GET", "/api/v1/me/earnings/lines?at=2026-11-03&campaign_id="+camp, a.Token(rm), nil)
		if !bytes.Contains(lines.Body, []byte(`"state":"approved"`)) || !bytes.Contains(lines.Body, []byte(`"credit_id":"1"`)) {
			t.Fatalf("lines at the end of day 2: %s", lines.Body)
		}
		path := "/api/v1/staff/" + strconv.FormatInt(rm, 10) + "/earnings"
		if r := a.Do("GET", path, mgrOther, nil); r.Status != http.StatusNotFound {
			t.Fatalf("outside the subtree: %d", r.Status)
		}
		if r := a.Do("GET", path, mgr, nil); r.Status != http.StatusOK {
			t.Fatalf("manager: %d %s", r.Status, r.Body)
		}
		sum := a.Do("GET", "/api/v1/incentive-summaries/"+camp, hq1, nil).Map(t)
		if sum["used_fen"].(float64) != 750 || sum["left_fen"].(float64) != 99250 {
			t.Fatalf("summary: %v", sum)
		}

		a.Clock.Set(time.Date(2026, 12, 1, 1, 0, 0, 0, time.UTC))
		hq1, hq2 := a.Token(hq1ID), a.Token(hq2ID) // a month later: fresh tokens
		b := a.Do("POST", "/api/v1/settlements", hq1, map[string]any{"campaign_id": camp, "period": "2026-11"})
		if b.Status != http.StatusCreated {
			t.Fatalf("settle: %d %s", b.Status, b.Body)
		}
		bid := b.Map(t)["id"].(string)
		if r := a.Do("POST", "/api/v1/settlements", hq1, map[string]any{"campaign_id": camp, "period": "2026-11"}); r.Status != http.StatusOK || r.Map(t)["id"] != bid {
			t.Fatalf("idempotent: %d %s", r.Status, r.Body)
		}
		if r := a.Do("POST", "/api/v1/settlements/"+bid+"/approve", hq1, nil); r.Status != http.StatusConflict {
			t.Fatalf("self approval: %d", r.Status)
		}
		if r := a.Do("POST", "/api/v1/settlements/"+bid+"/approve", hq2, nil); r.Status != http.StatusOK {
			t.Fatalf("approve: %d %s", r.Status, r.Body)
		}
		csv := a.Do("GET", "/api/v1/settlements/"+bid+"/export", hq2, nil)
		want := "\ufeffemployee_no,name,unit_path,cash_fen,cash_yuan,points,clawback_fen,clawback_points,owed_fen,owed_points,lines\nE001,张三,总行/上海分行/一组,750,7.50,0,0,0,0,0,1\n"
		if csv.Status != http.StatusOK || string(csv.Body) != want {
			t.Fatalf("csv: %d %q", csv.Status, csv.Body)
		}
		if r := a.Do("GET", "/api/v1/settlements/"+bid+"/export?format=jsonl", a.Token(rm), nil); r.Status != http.StatusNotFound {
			t.Fatalf("staff export: %d", r.Status)
		}
	})
}

// TestIncentivesFollowAttribution: a conversion posted by an upstream
// system earns through attribution's listener in the same transaction,
// and its partial reversal cancels in proportion.
func TestIncentivesFollowAttribution(t *testing.T) {
	testapp.Each(t, testapp.Options{}, func(t *testing.T, a *testapp.App) {
		b := seedAttrBank(t, a)
		var hq int64
		if err := a.DB.GetContext(context.Background(), &hq, `SELECT id FROM org_units WHERE code = 'HQ'`); err != nil {
			t.Fatal(err)
		}
		s := a.Seed()
		cm1 := a.Token(s.Staff("CM1", "策划甲", hq, auth.RoleCampaignManager))
		cm2 := a.Token(s.Staff("CM2", "策划乙", hq, auth.RoleCampaignManager))
		plan := a.Do("POST", "/api/v1/incentive-plans", cm1, map[string]any{"campaign_id": strconv.FormatInt(b.Campaign, 10), "budget_fen": 10000,
			"rules": []any{map[string]any{"id": "open", "kind": "bounty", "currency": "cash", "amount": 500},
				map[string]any{"id": "pct", "kind": "percentage", "currency": "cash", "rate_bp": 1000}}})
		if plan.Status != http.StatusCreated {
			t.Fatalf("propose: %d %s", plan.Status, plan.Body)
		}
		if r := a.Do("POST", "/api/v1/incentive-plans/"+plan.Map(t)["id"].(string)+"/approve", cm2, nil); r.Status != http.StatusOK {
			t.Fatalf("approve: %d %s", r.Status, r.Body)
		}
		a.Clock.Advance(time.Second)
		key, secret := a.Client("core-banking", "conversions:write", "touches:write")
		at := a.Clock.Now().Format(time.RFC3339)
		touch := map[string]any{"source": "branch", "external_id": "v1", "customer": map[string]string{"customer_id": "C1"},
			"staff_employee_no": "E1", "channel": "offline", "kind": "branch_visit", "occurred_at": at}
		if res := a.DoSigned("POST", "/api/v1/touches", key, secret, touch); res.Status != http.StatusCreated {
			t.Fatalf("touch: %d %s", res.Status, res.Body)
		}
		a.Clock.Advance(time.Second)
		conv := map[string]any{"source": "cards", "external_id": "k1", "type": "account_opened", "amount_fen": 1000, "channel": "offline",
			"occurred_at": a.Clock.Now().Format(time.RFC3339), "customer": map[string]string{"customer_id": "C1"}}
		res := a.DoSigned("POST", "/api/v1/conversions", key, secret, conv)
		if res.Status != http.StatusCreated {
			t.Fatalf("conversion: %d %s", res.Status, res.Body)
		}
		id := res.Map(t)["id"].(string)
		earned := func() rewards.EarningSummary {
			var out struct {
				Items []rewards.EarningSummary `json:"items"`
			}
			a.Do("GET", "/api/v1/me/earnings", a.Token(b.A), nil).JSON(t, &out)
			if len(out.Items) != 1 {
				t.Fatalf("earnings: %+v", out)
			}
			return out.Items[0]
		}
		if e := earned(); e.PendingFen != 600 { // 500 bounty + 10% of 1000
			t.Fatalf("after the conversion: %+v", e)
		}
		a.Clock.Advance(time.Second)
		rev := map[string]any{"external_id": "cancel-1", "amount_fen": 400, "reason": "early redemption"}
		if r := a.DoSigned("POST", "/api/v1/conversions/"+id+"/reversal", key, secret, rev); r.Status != http.StatusOK && r.Status != http.StatusCreated {
			t.Fatalf("reversal: %d %s", r.Status, r.Body)
		}
		if e := earned(); e.PendingFen != 360 || e.CancelledFen != 240 { // 40% of 600 cancelled
			t.Fatalf("after the reversal: %+v", e)
		}
	})
}
