package server_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"rmref/internal/auth"
	"rmref/internal/testapp"
)

// TestPerkEndToEnd configures the coffee programme with maker-checker,
// streams signed card events, claims on the perks platform and reads
// perks?at= and the summary, all over HTTP.
func TestPerkEndToEnd(t *testing.T) {
	testapp.Each(t, testapp.Options{Now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}, func(t *testing.T, a *testapp.App) {
		s := a.Seed()
		hq := s.Unit("hq", "HQ", "总行", 0)
		cm1ID, audID, plainID := s.Staff("C001", "活动经理一", hq, auth.RoleCampaignManager), s.Staff("U001", "审计", hq, auth.RoleAuditor), s.Staff("E001", "员工", hq)
		cm1, plain := a.Token(cm1ID), a.Token(plainID)
		cm2 := a.Token(s.Staff("C002", "活动经理二", hq, auth.RoleCampaignManager))
		cardKey, cardSecret := a.Client("card system", "card_events:write")
		perksKey, perksSecret := a.Client("perks platform", "perks:write")

		res := a.Do("POST", "/api/v1/perk-programmes", cm1, map[string]any{"name": "瑞幸联名卡 全年畅饮", "template": "coffee",
			"product": "luckin_cobrand", "start_date": "2026-01-01", "end_date": "2026-12-31"})
		if res.Status != http.StatusCreated {
			t.Fatalf("create: %d %s", res.Status, res.Body)
		}
		var prog struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		}
		res.JSON(t, &prog)
		if res := a.Do("POST", "/api/v1/perk-programmes/"+prog.ID+"/versions/1/approve", cm1, nil); res.Status != http.StatusConflict || res.Map(t)["type"] != "/problems/self_approval" {
			t.Fatalf("self approval: %d %s", res.Status, res.Body)
		}
		if res := a.Do("GET", "/api/v1/perk-programmes/"+prog.ID, plain, nil); res.Status != http.StatusForbidden {
			t.Fatalf("plain staff read: %d", res.Status)
		}
		if res := a.Do("POST", "/api/v1/perk-programmes/"+prog.ID+"/versions/1/approve", cm2, nil); res.Status != http.StatusOK {
			t.Fatalf("approve: %d %s", res.Status, res.Body)
		}

		a.Clock.Set(time.Date(2026, 1, 20, 4, 0, 0, 0, time.UTC))
		cm1, aud, plain := a.Token(cm1ID), a.Token(audID), a.Token(plainID)
		events := map[string]any{"events": []map[string]any{
			{"event_id": "ap-1", "kind": "card_approved", "customer_id": "C100", "card_id": "K1", "occurred_at": "2026-01-05T10:00:00+08:00",
				"product": "luckin_cobrand", "tier": "gold", "primary": true, "new_customer": true},
			{"event_id": "p-2", "kind": "purchase", "customer_id": "C100", "card_id": "K1", "occurred_at": "2026-01-11T23:59:59+08:00", "amount_fen": 9900},
			{"event_id": "p-1", "kind": "purchase", "customer_id": "C100", "card_id": "K1", "occurred_at": "2026-01-09T12:00:00Z", "amount_fen": 9899},
			{"event_id": "p-0", "kind": "purchase", "customer_id": "C100", "card_id": "K1", "occurred_at": "2026-01-10T12:00:00Z", "amount_fen": 1200},
			{"event_id": "bad", "kind": "purchase", "customer_id": "C100", "card_id": "K1", "occurred_at": "2026-01-20T04:06:00Z", "amount_fen": 100},
			{"event_id": "x-1", "kind": "points_exchange_requested", "customer_id": "C100", "card_id": "K1", "occurred_at": "2026-01-12T09:00:00+08:00", "points": 2600},
		}}
		res = a.DoSigned("POST", "/api/v1/card-events", cardKey, cardSecret, events)
		if res.Status != http.StatusOK {
			t.Fatalf("events: %d %s", res.Status, res.Body)
		}
		var batch struct {
			Results []struct {
				EventID string   `json:"event_id"`
				Status  string   `json:"status"`
				Granted []string `json:"granted"`
				Problem *struct {
					Type string `json:"type"`
				} `json:"problem"`
			} `json:"results"`
		}
		res.JSON(t, &batch)
		want := []string{"accepted", "accepted", "accepted", "accepted", "rejected", "accepted"}
		for i, r := range batch.Results {
			if r.Status != want[i] {
				t.Errorf("item %d (%s) = %s, want %s", i, r.EventID, r.Status, want[i])
			}
		}
		if p := batch.Results[4].Problem; p == nil || p.Type != "/problems/future_time" {
			t.Errorf("future event problem = %+v", p)
		}
		g := batch.Results[5].Granted
		if len(g) != 1 || !strings.HasPrefix(g[0], prog.ID+".exchange-") {
			t.Fatalf("exchange granted %v", g)
		}
		exchangeKey := strings.TrimPrefix(g[0], prog.ID+".")
		// Replay of one event: a duplicate; the same id with another payload: 409.
		one := map[string]any{"event_id": "p-0", "kind": "purchase", "customer_id": "C100", "card_id": "K1", "occurred_at": "2026-01-10T20:00:00+08:00", "amount_fen": 1200}
		if res := a.DoSigned("POST", "/api/v1/card-events", cardKey, cardSecret, one); res.Status != http.StatusOK || res.Map(t)["status"] != "duplicate" {
			t.Fatalf("replay: %d %s", res.Status, res.Body)
		}
		one["amount_fen"] = 1300
		if res := a.DoSigned("POST", "/api/v1/card-events", cardKey, cardSecret, one); res.Status != http.StatusConflict || res.Map(t)["type"] != "/problems/event_id_reused" {
			t.Fatalf("reuse: %d %s", res.Status, res.Body)
		}
		if res := a.Do("POST", "/api/v1/card-events", cm1, one); res.Status != http.StatusUnauthorized {
			t.Fatalf("unsigned events: %d", res.Status)
		}
		if res := a.DoSigned("POST", "/api/v1/card-events", perksKey, perksSecret, one); res.Status != http.StatusForbidden {
			t.Fatalf("events from the perks platform: %d", res.Status)
		}
		if res := a.DoSigned("GET", "/api/v1/cardholders/C100/perks", cardKey, cardSecret, nil); res.Status != http.StatusForbidden {
			t.Fatalf("perks read by the card system: %d", res.Status)
		}

		// 99.00 yuan on Sunday 11 January 23:59:59 qualifies the welcome gift
		// (window to 9 February) and completes the week of 5 January.
		perks := func(tok, at string) map[string]any {
			t.Helper()
			var res testapp.Response
			if tok == "" {
				res = a.DoSigned("GET", "/api/v1/cardholders/C100/perks?at="+at, perksKey, perksSecret, nil)
			} else {
				res = a.Do("GET", "/api/v1/cardholders/C100/perks?at="+at, tok, nil)
			}
			if res.Status != http.StatusOK {
				t.Fatalf("perks: %d %s", res.Status, res.Body)
			}
			return res.Map(t)["programmes"].([]any)[0].(map[string]any)
		}
		states := func(l map[string]any) map[string]string {
			out := map[string]string{}
			for _, g := range l["grants"].([]any) {
				gm := g.(map[string]any)
				claimBy, _ := gm["claim_by"].(string) // exchanges have no claim window
				out[gm["key"].(string)] = gm["state"].(string) + " " + claimBy
			}
			return out
		}
		got := states(perks(aud, "2026-01-12"))
		if got["welcome"] != "claimable 2026-02-09" || got["weekly-2026-01-05"] != "claimable 2026-01-17" || got[exchangeKey] != "effective " {
			t.Errorf("at 12 January: %v", got)
		}
		if res := a.Do("GET", "/api/v1/cardholders/C100/perks", plain, nil); res.Status != http.StatusForbidden {
			t.Errorf("plain staff perks: %d", res.Status)
		}
		if res := a.Do("GET", "/api/v1/cardholders/NOBODY/perks", aud, nil); res.Status != http.StatusNotFound {
			t.Errorf("unknown cardholder: %d", res.Status)
		}
		if res := a.Do("GET", "/api/v1/cardholders/C100/perks?at=12/01/2026", aud, nil); res.Status != http.StatusBadRequest {
			t.Errorf("bad at: %d", res.Status)
		}
		for at, want := range map[string]int{"2026-01-11T15:59:58Z": 0, "2026-01-11T15:59:59Z": 2} {
			res := a.Do("GET", "/api/v1/cardholders/C100/perks?programme_id="+prog.ID+"&at="+at, aud, nil)
			if res.Status != http.StatusOK || len(res.Map(t)["programmes"].([]any)[0].(map[string]any)["grants"].([]any)) != want {
				t.Errorf("perks at %s (want %d grants): %d %s", at, want, res.Status, res.Body)
			}
		}

		claim := func(grant, at string) testapp.Response {
			return a.DoSigned("POST", "/api/v1/cardholders/C100/grants/"+prog.ID+"."+grant+"/claim", perksKey, perksSecret, map[string]any{"claimed_at": at})
		}
		if res := claim("weekly-2026-01-05", "2026-01-18T00:00:00+08:00"); res.Status != http.StatusConflict || res.Map(t)["type"] != "/problems/claim_window_closed" {
			t.Fatalf("late weekly claim: %d %s", res.Status, res.Body)
		}
		res = claim("welcome", "2026-01-15T10:00:00+08:00")
		if res.Status != http.StatusOK {
			t.Fatalf("claim: %d %s", res.Status, res.Body)
		}
		if res := claim("welcome", "2026-01-16T10:00:00+08:00"); res.Status != http.StatusConflict || res.Map(t)["type"] != "/problems/already_claimed" {
			t.Fatalf("second claim: %d %s", res.Status, res.Body)
		}
		if res := claim("welcome", "2026-01-25T10:00:00+08:00"); res.Status != http.StatusConflict || res.Map(t)["type"] != "/problems/future_time" {
			t.Fatalf("future claim: %d %s", res.Status, res.Body)
		}

		l := perks("", "2026-02-01")
		got = states(l)
		if got["welcome"] != "effective 2026-02-09" || got["weekly-2026-01-05"] != "lapsed 2026-01-17" {
			t.Errorf("at 1 February: %v", got)
		}
		m := l["map"].(map[string]any)
		if m["icons"].(float64) != 13 || m["icons_missing"].(float64) != 7 || m["next_stage"].(float64) != 1 {
			t.Errorf("map = %v", m)
		}
		var welcome map[string]any
		for _, g := range l["grants"].([]any) {
			if g.(map[string]any)["key"] == "welcome" {
				welcome = g.(map[string]any)
			}
		}
		cs := welcome["coupon_list"].([]any)
		c3, c4 := cs[2].(map[string]any), cs[3].(map[string]any)
		if c3["effective_on"] != "2026-01-15" || c3["valid_until"] != "2026-02-13" || c4["effective_on"] != "2026-02-01" || c4["valid_until"] != "2026-03-02" || c4["state"] != "effective" {
			t.Errorf("coupons 3 and 4: %v %v", c3, c4)
		}

		res = a.Do("GET", "/api/v1/perk-programmes/"+prog.ID+"/summary?at=2026-02-01", aud, nil)
		if res.Status != http.StatusOK {
			t.Fatalf("summary: %d %s", res.Status, res.Body)
		}
		sum := res.Map(t)
		li := sum["liability"].(map[string]any)
		// 6 welcome coupons of 26 yuan and one exchange coupon, all still in effect on 1 February
		if sum["cardholders"].(float64) != 1 || li["outstanding_fen"].(float64) != 7*2600 {
			t.Errorf("summary = %s", res.Body)
		}
	})
}

// TestPerkProgrammeHTTP covers configuration errors and changes over HTTP:
// field paths of a bad config, a proposed change approved by another
// person, and batch limits and per-item problems.
func TestPerkProgrammeHTTP(t *testing.T) {
	testapp.Each(t, testapp.Options{}, func(t *testing.T, a *testapp.App) {
		s := a.Seed()
		hq := s.Unit("hq", "HQ", "总行", 0)
		cm := a.Token(s.Staff("C001", "活动经理", hq, auth.RoleCampaignManager))
		admin := a.Token(s.Staff("A001", "管理员", hq, auth.RoleHQAdmin))
		key, secret := a.Client("card system", "card_events:write")
		cfg := map[string]any{"product": "p1", "timezone": "Asia/Shanghai", "start_date": "2026-12-01", "year_basis": "calendar",
			"rules": []map[string]any{{"slug": "monthly", "kind": "periodic", "period": "month", "purchases": 5, "coupons": 1,
				"value_fen": 1000, "cups_per_coupon": 1, "claim_days": 10, "validity_days": 30}}}
		bad := map[string]any{"name": "x", "config": map[string]any{"product": "p1", "timezone": "Nowhere/City", "start_date": "2026-12-01", "year_basis": "calendar",
			"rules": []map[string]any{{"slug": "Bad Slug", "kind": "periodic", "period": "fortnight", "purchases": 5, "coupons": 1, "value_fen": 1000, "validity_days": 30, "claim_days": 1}}}}
		res := a.Do("POST", "/api/v1/perk-programmes", cm, bad)
		var p struct {
			Errors []struct{ Field string } `json:"errors"`
		}
		res.JSON(t, &p)
		var fields []string
		for _, e := range p.Errors {
			fields = append(fields, e.Field)
		}
		if res.Status != http.StatusBadRequest || strings.Join(fields, " ") != "config.timezone config.rules[0].slug config.rules[0].period" {
			t.Fatalf("bad config: %d %s", res.Status, res.Body)
		}
		res = a.Do("POST", "/api/v1/perk-programmes", cm, map[string]any{"name": "Monthly", "config": cfg})
		if res.Status != http.StatusCreated {
			t.Fatalf("create: %d %s", res.Status, res.Body)
		}
		id := res.Map(t)["id"].(string)
		if res := a.Do("POST", "/api/v1/perk-programmes/"+id+"/versions/1/approve", admin, nil); res.Status != http.StatusOK {
			t.Fatalf("approve: %d %s", res.Status, res.Body)
		}
		cfg["start_date"] = "2027-01-01"
		res = a.Do("POST", "/api/v1/perk-programmes/"+id+"/versions", admin, map[string]any{"config": cfg, "effective_from": "2026-12-15T00:00:00+08:00", "note": "start in January"})
		if res.Status != http.StatusCreated {
			t.Fatalf("propose: %d %s", res.Status, res.Body)
		}
		if res := a.Do("POST", "/api/v1/perk-programmes/"+id+"/versions/2/approve", admin, nil); res.Status != http.StatusConflict {
			t.Fatalf("self approval by an hq_admin: %d %s", res.Status, res.Body)
		}
		res = a.Do("POST", "/api/v1/perk-programmes/"+id+"/versions/2/approve", cm, nil)
		if res.Status != http.StatusOK {
			t.Fatalf("approve v2: %d %s", res.Status, res.Body)
		}
		var prog struct {
			Status   string `json:"status"`
			Versions []struct {
				Status      string `json:"status"`
				EffectiveAt string `json:"effective_at"`
			} `json:"versions"`
		}
		res.JSON(t, &prog)
		if prog.Status != "active" || len(prog.Versions) != 2 || prog.Versions[1].EffectiveAt != "2026-12-14T16:00:00Z" {
			t.Errorf("programme after v2: %s", res.Body)
		}
		if res := a.Do("GET", "/api/v1/perk-programmes?limit=1", cm, nil); res.Status != http.StatusOK || len(res.Map(t)["items"].([]any)) != 1 {
			t.Errorf("list: %d %s", res.Status, res.Body)
		}
		events := make([]map[string]any, 501)
		for i := range events {
			events[i] = map[string]any{"event_id": "e" + strconv.Itoa(i), "kind": "purchase", "customer_id": "c", "card_id": "k", "occurred_at": "2026-11-01T10:00:00Z", "amount_fen": 100}
		}
		if res := a.DoSigned("POST", "/api/v1/card-events", key, secret, map[string]any{"events": events}); res.Status != http.StatusBadRequest {
			t.Errorf("501 events: %d", res.Status)
		}
		res = a.DoSigned("POST", "/api/v1/card-events", key, secret, map[string]any{"events": []any{events[0], map[string]any{"event_id": 5}, map[string]any{"event_id": "k1", "kind": "refund"}}})
		var batch struct {
			Results []struct {
				Status  string `json:"status"`
				Problem *struct {
					Errors []struct{ Field string } `json:"errors"`
				} `json:"problem"`
			} `json:"results"`
		}
		res.JSON(t, &batch)
		if res.Status != http.StatusOK || len(batch.Results) != 3 || batch.Results[0].Status != "accepted" || batch.Results[1].Status != "rejected" ||
			batch.Results[2].Problem == nil || batch.Results[2].Problem.Errors[len(batch.Results[2].Problem.Errors)-1].Field != "kind" {
			t.Errorf("mixed batch: %d %s", res.Status, res.Body)
		}
	})
}
