package server_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"rmref/internal/auth"
	"rmref/internal/testapp"
)

type leadJSON struct {
	ID         string `json:"id"`
	CustomerID string `json:"customer_id"`
	Status     string `json:"status"`
	Channel    string `json:"channel"`
	AssigneeID string `json:"assignee_id"`
	SLAState   string `json:"sla_state"`
	LeaseUntil string `json:"lease_until"`
}

// TestLeadsEndToEnd drives the lead flow over HTTP: CRM attributes, a
// rule, events, a call-centre claim and contact, a branch RM's own leads,
// scope and the report.
func TestLeadsEndToEnd(t *testing.T) {
	mon := time.Date(2026, 11, 2, 2, 0, 0, 0, time.UTC) // Monday 10:00 in Shanghai
	testapp.Each(t, testapp.Options{Now: mon}, func(t *testing.T, a *testapp.App) {
		s := a.Seed()
		hq := s.Unit("hq", "HQ", "总行", 0)
		b1 := s.Unit("branch", "B001", "一分行", hq)
		cc := s.Unit("team", "CC", "呼叫中心", hq)
		rm := s.Staff("E001", "理财经理", b1)
		other := s.Staff("E002", "另一位", cc)
		s.Staff("A001", "坐席", cc)
		admin := a.Token(s.Staff("H001", "总行管理员", hq, auth.RoleHQAdmin))
		cm := a.Token(s.Staff("M001", "活动经理", hq, auth.RoleCampaignManager))
		crmKey, crmSecret := a.Client("crm", "customers:write")
		appKey, appSecret := a.Client("app", "events:write")
		ccKey, ccSecret := a.Client("call centre", "leads:claim")

		res := a.Do("PUT", "/api/v1/lead-settings", admin, map[string]any{"week_cap": 2, "month_cap": 4, "quiet_start": "21:00", "quiet_end": "09:00",
			"lease_seconds": 300, "retention_hours": 168, "default_capacity": 30, "default_pool_unit_id": fmt.Sprint(hq),
			"channel_units": map[string]int64{"remote:call_center": cc}})
		wantStatus(t, res, http.StatusOK)
		consent := map[string]bool{"call_center": true, "sms": true, "wecom": true, "branch": true}
		res = a.DoSigned("POST", "/api/v1/customers/attributes", crmKey, crmSecret, map[string]any{"items": []map[string]any{
			{"customer_id": "C1", "value_tier": "mass", "age_band": "30_44", "home_branch": "B001", "consent": consent},
			{"customer_id": "C2", "value_tier": "mass", "age_band": "60_74", "home_branch": "B001", "consent": consent},
		}})
		wantStatus(t, res, http.StatusOK)
		wantProblem(t, a.DoSigned("POST", "/api/v1/customers/attributes", appKey, appSecret, map[string]any{"items": []any{}}), http.StatusForbidden, "forbidden")
		wantProblem(t, a.DoSigned("POST", "/api/v1/customers/attributes", crmKey, crmSecret, map[string]any{"items": []map[string]any{{"customer_id": "C3", "age_band": "old"}}}), http.StatusBadRequest, "invalid")

		rule := map[string]any{"code": "fund-dwell", "name": "基金页停留", "status": "active", "definition": map[string]any{
			"trigger":  map[string]any{"type": "dwell", "products": []string{"FUND1"}, "dwell_seconds": 60},
			"routing":  map[string]any{"default": []string{"remote:call_center", "offline:branch"}, "by_age": map[string][]string{"60_74": {"offline:branch"}}},
			"priority": 10, "sla_hours": 2, "sla_hours_by_channel": map[string]int{"offline:branch": 8}, "cooldown_days": 7}}
		wantProblem(t, a.Do("POST", "/api/v1/lead-rules", a.Token(rm), rule), http.StatusForbidden, "forbidden")
		wantStatus(t, a.Do("POST", "/api/v1/lead-rules", cm, rule), http.StatusCreated)

		evs := []map[string]any{
			{"event_id": "e1", "customer_id": "C1", "kind": "product_view", "product": "FUND1", "occurred_at": "2026-11-02T10:00:00+08:00", "dwell_seconds": 75},
			{"event_id": "e2", "customer_id": "C2", "kind": "product_view", "product": "FUND1", "occurred_at": "2026-11-02T02:00:00Z", "dwell_seconds": 60},
		}
		res = a.DoSigned("POST", "/api/v1/events/batch", appKey, appSecret, map[string]any{"events": evs})
		wantStatus(t, res, http.StatusOK)
		if m := res.Map(t); m["accepted"] != float64(2) || len(m["lead_ids"].([]any)) != 2 {
			t.Fatalf("ingest %s", res.Body)
		}
		wantProblem(t, a.DoSigned("POST", "/api/v1/events/batch", appKey, appSecret, map[string]any{"events": []map[string]any{{"event_id": "bad"}}}), http.StatusBadRequest, "invalid")

		var claimed struct{ Items []leadJSON }
		a.DoSigned("POST", "/api/v1/leads/claim?channel=remote:call_center&limit=5", ccKey, ccSecret, nil).JSON(t, &claimed)
		if len(claimed.Items) != 1 || claimed.Items[0].CustomerID != "C1" || claimed.Items[0].Status != "accepted" {
			t.Fatalf("claimed %+v", claimed.Items)
		}
		id := claimed.Items[0].ID
		var after leadJSON
		res = a.DoSigned("POST", "/api/v1/leads/"+id+"/events", ccKey, ccSecret, map[string]any{"event_id": "call-1", "employee_no": "A001", "type": "contact"})
		wantStatus(t, res, http.StatusOK)
		res.JSON(t, &after)
		if after.Status != "contacted" || after.SLAState != "met" {
			t.Fatalf("after contact %+v", after)
		}

		var mine struct{ Items []leadJSON }
		a.Do("GET", "/api/v1/me/leads", a.Token(rm), nil).JSON(t, &mine)
		if len(mine.Items) != 1 || mine.Items[0].CustomerID != "C2" || mine.Items[0].Channel != "offline:branch" {
			t.Fatalf("RM's leads %+v", mine.Items)
		}
		wantProblem(t, a.Do("GET", "/api/v1/leads/"+mine.Items[0].ID, a.Token(other), nil), http.StatusNotFound, "not_found")
		wantStatus(t, a.Do("POST", "/api/v1/leads/"+mine.Items[0].ID+"/accept", a.Token(rm), nil), http.StatusOK)
		wantStatus(t, a.Do("POST", "/api/v1/leads/"+mine.Items[0].ID+"/outcome", a.Token(rm), map[string]any{"outcome": "converted"}), http.StatusOK)

		res = a.Do("GET", "/api/v1/leads/report?from=2026-11-02&to=2026-11-03", admin, nil)
		wantStatus(t, res, http.StatusOK)
		if m := res.Map(t); m["leads"] != float64(2) || m["sla_hit_rate_bp"] != float64(10000) {
			t.Fatalf("report %s", res.Body)
		}
	})
}
