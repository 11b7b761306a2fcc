package server_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"rmref/campaign"
	"rmref/internal/auth"
	"rmref/internal/testapp"
	"rmref/referral"
)

// attrBank: HQ > region > branch > team with staff A and B, two hq admins
// and one live campaign counting account_opened (last touch).
type attrBank struct {
	A, B, H1, H2 int64
	Campaign     int64
}

func seedAttrBank(t *testing.T, a *testapp.App) attrBank {
	t.Helper()
	s := a.Seed()
	hq := s.Unit("hq", "HQ", "总行", 0)
	rg := s.Unit("region", "RG", "华北区", hq)
	br := s.Unit("branch", "BJ", "北京分行", rg)
	tm := s.Unit("team", "T1", "财富一组", br)
	b := attrBank{A: s.Staff("E1", "张三明", tm), B: s.Staff("E2", "李四", tm),
		H1: s.Staff("H1", "钱总", hq, auth.RoleHQAdmin), H2: s.Staff("H2", "孙总", hq, auth.RoleHQAdmin)}
	ctx := context.Background()
	admin, err := auth.LoadStaffPrincipal(ctx, a.DB, b.H1, 0)
	if err != nil {
		t.Fatal(err)
	}
	cs := campaign.NewService(a.DB, a.Clock, a.Config.LandingHosts)
	code, name, landing := "open-q4", "开户季", "https://m.example-bank.cn/open"
	start, end := a.Clock.Now().Add(-time.Hour), a.Clock.Now().Add(60*24*time.Hour)
	units, convs := []int64{rg}, []campaign.ConversionRule{{Type: "account_opened"}}
	c, err := cs.Create(ctx, admin, campaign.Patch{Code: &code, Name: &name, StartAt: &start, EndAt: &end, LandingURL: &landing, UnitIDs: &units, Conversions: &convs})
	if err != nil {
		t.Fatalf("create campaign: %v", err)
	}
	if _, err := cs.Transition(ctx, admin, c.ID, campaign.StatusActive); err != nil {
		t.Fatal(err)
	}
	b.Campaign = c.ID
	return b
}

func kitCode(t *testing.T, a *testapp.App, staff, campaignID int64) string {
	t.Helper()
	var kit struct {
		Code string `json:"code"`
	}
	res := a.Do("GET", "/api/v1/me/kit?campaign_id="+idStr(campaignID), a.Token(staff), nil)
	if res.Status != 200 {
		t.Fatalf("kit: %d %s", res.Status, res.Body)
	}
	res.JSON(t, &kit)
	return kit.Code
}

type convOut struct {
	ID           string `json:"id"`
	Attributions []struct {
		Rule    string `json:"rule"`
		Credits []struct {
			StaffID     string `json:"staff_id"`
			CreditedFen int64  `json:"credited_fen"`
		} `json:"credits"`
	} `json:"attributions"`
}

// creditedTo returns the single staff member credited, failing otherwise.
func (c convOut) creditedTo(t *testing.T) string {
	t.Helper()
	if len(c.Attributions) != 1 || len(c.Attributions[0].Credits) != 1 {
		t.Fatalf("want one credit, got %+v", c)
	}
	return c.Attributions[0].Credits[0].StaffID
}

func TestAttributionEndToEnd(t *testing.T) {
	testapp.Each(t, testapp.Options{}, func(t *testing.T, a *testapp.App) {
		b := seedAttrBank(t, a)
		key, secret := a.Client("core-banking", "conversions:write", "touches:write")
		codeA, codeB := kitCode(t, a, b.A, b.Campaign), kitCode(t, a, b.B, b.Campaign)
		// a customer follows A's link: a click with a fresh visitor id.
		r := get(t, a, "/s/"+codeA+"/wechat_friend", "")
		loc, _ := url.Parse(r.Header.Get("Location"))
		token := loc.Query().Get(referral.TokenParam)
		var vid string
		for _, c := range r.Cookies() {
			if c.Name == "rmref_vid" {
				vid = c.Value
			}
		}
		if token == "" || vid == "" {
			t.Fatalf("no token or visitor id: %s", r.Header)
		}
		a.Clock.Advance(10 * time.Minute)
		now := a.Clock.Now().Format(time.RFC3339)
		touch := map[string]any{"source": "callcenter", "external_id": "call-1", "customer": map[string]string{"customer_id": "C1"},
			"staff_employee_no": "E2", "channel": "remote", "kind": "call", "occurred_at": a.Clock.Now().Add(-30 * time.Minute).Format(time.RFC3339)}
		if res := a.DoSigned("POST", "/api/v1/touches", key, secret, touch); res.Status != 201 {
			t.Fatalf("touch: %d %s", res.Status, res.Body)
		}
		conv := func(ext, cust string, extra map[string]any) map[string]any {
			m := map[string]any{"source": "core", "external_id": ext, "type": "account_opened", "amount_fen": 0, "channel": "online",
				"occurred_at": now, "customer": map[string]string{"customer_id": cust, "visitor_id": vid}}
			for k, v := range extra {
				m[k] = v
			}
			return m
		}
		post := func(body map[string]any, want int) convOut {
			t.Helper()
			a.Clock.Advance(time.Second) // a new signature (replays are refused)
			res := a.DoSigned("POST", "/api/v1/conversions", key, secret, body)
			if res.Status != want {
				t.Fatalf("conversion %v: %d %s", body["external_id"], res.Status, res.Body)
			}
			var out convOut
			res.JSON(t, &out)
			return out
		}
		// last touch: A's click (after B's call) wins.
		x1 := post(conv("x1", "C1", nil), 201)
		if got := x1.creditedTo(t); got != idStr(b.A) {
			t.Fatalf("x1 credited to %s, want A", got)
		}
		// an entered code binds over the cookie's click.
		x2 := post(conv("x2", "C1", map[string]any{"invitation_code": codeB}), 201)
		if got := x2.creditedTo(t); got != idStr(b.B) || x2.Attributions[0].Rule != "binding" {
			t.Fatalf("x2 credited to %s (%s), want B by binding", got, x2.Attributions[0].Rule)
		}
		// a referral token alone binds for a new customer.
		x3 := post(map[string]any{"source": "core", "external_id": "x3", "type": "account_opened", "amount_fen": 100, "channel": "online",
			"occurred_at": now, "customer": map[string]string{"customer_id": "C3"}, "rmref_t": token}, 201)
		if got := x3.creditedTo(t); got != idStr(b.A) {
			t.Fatalf("x3 credited to %s, want A", got)
		}
		if again := post(conv("x1", "C1", nil), 200); again.ID != x1.ID {
			t.Fatalf("repeat gave %s, want %s", again.ID, x1.ID)
		}
		var ex struct {
			Campaigns []struct {
				Rule     string `json:"rule"`
				Excluded []struct {
					Reason string `json:"reason"`
				} `json:"excluded"`
			} `json:"campaigns"`
		}
		res := a.Do("GET", "/api/v1/conversions/"+x2.ID+"/attribution", a.Token(b.H1), nil)
		if res.Status != 200 {
			t.Fatalf("explain: %d %s", res.Status, res.Body)
		}
		res.JSON(t, &ex)
		if len(ex.Campaigns) != 1 || ex.Campaigns[0].Rule != "binding" || len(ex.Campaigns[0].Excluded) != 2 || ex.Campaigns[0].Excluded[0].Reason != "explicit_binding" {
			t.Fatalf("explanation %s", res.Body)
		}
		if res := a.Do("GET", "/api/v1/conversions/"+x1.ID, a.Token(b.B), nil); res.Status != 404 {
			t.Fatalf("B reads A's conversion: %d", res.Status)
		}
		if res := a.Do("GET", "/api/v1/conversions/"+x1.ID, a.Token(b.A), nil); res.Status != 200 {
			t.Fatalf("A reads own conversion: %d", res.Status)
		}
		var chk struct {
			OK bool `json:"ok"`
		}
		a.Do("GET", "/api/v1/attribution/check", a.Token(b.H1), nil).JSON(t, &chk)
		if !chk.OK {
			t.Fatal("check reports differences")
		}
		if res := a.Do("GET", "/api/v1/attribution/check", a.Token(b.A), nil); res.Status != 403 {
			t.Fatalf("staff check: %d", res.Status)
		}
	})
}

func TestConversionBatchPartialFailure(t *testing.T) {
	testapp.Each(t, testapp.Options{}, func(t *testing.T, a *testapp.App) {
		seedAttrBank(t, a)
		key, secret := a.Client("warehouse", "conversions:write")
		now := a.Clock.Now().Format(time.RFC3339)
		item := func(ext string, amount int64) map[string]any {
			return map[string]any{"source": "core", "external_id": ext, "type": "account_opened", "amount_fen": amount, "channel": "offline",
				"occurred_at": now, "customer": map[string]string{"customer_id": "C-" + ext}}
		}
		body := map[string]any{"items": []any{item("b1", 100), item("b2", -1), item("b1", 100), item("b1", 5),
			map[string]any{"source": "core", "external_id": "b5", "type": "account_opened", "amount_fen": 1, "channel": "offline",
				"occurred_at": a.Clock.Now().Add(time.Hour).Format(time.RFC3339), "customer": map[string]string{"customer_id": "C5"}},
			map[string]any{"source": "core", "external_id": "b6", "amount_fen": "twelve"}, "not an object", item("b7", 7)}}
		res := a.DoSigned("POST", "/api/v1/conversions/batch", key, secret, body)
		if res.Status != http.StatusOK {
			t.Fatalf("batch: %d %s", res.Status, res.Body)
		}
		var out struct {
			Items []struct {
				Status int `json:"status"`
				Error  *struct {
					Type string `json:"type"`
				} `json:"error"`
			} `json:"items"`
		}
		res.JSON(t, &out)
		want := []int{201, 400, 200, 409, 409, 400, 400, 201}
		for i, w := range want {
			if out.Items[i].Status != w {
				t.Fatalf("item %d: status %d, want %d (%s)", i, out.Items[i].Status, w, res.Body)
			}
		}
		if out.Items[3].Error.Type != "/problems/idempotency_key_reused" || out.Items[4].Error.Type != "/problems/future_time" {
			t.Fatalf("errors: %s", res.Body)
		}
		var n int
		_ = a.DB.GetContext(context.Background(), &n, `SELECT COUNT(*) FROM conversions`)
		if n != 2 {
			t.Fatalf("%d conversions stored, want 2", n)
		}
		big := map[string]any{"items": make([]any, 1001)}
		if res := a.DoSigned("POST", "/api/v1/conversions/batch", key, secret, big); res.Status != 400 {
			t.Fatalf("1001 items: %d", res.Status)
		}
		if res := a.Do("POST", "/api/v1/conversions", "", item("u1", 1)); res.Status != 401 {
			t.Fatalf("unsigned: %d", res.Status)
		}
	})
}

func TestIdentitiesEndpoint(t *testing.T) {
	testapp.Each(t, testapp.Options{}, func(t *testing.T, a *testapp.App) {
		key, secret := a.Client("app", "identities:write")
		body := map[string]any{"source": "mobile_app", "identifiers": map[string]string{"customer_id": "C1", "phone": "138 0013 8000", "openid": "o1"}}
		for i := range 2 {
			a.Clock.Advance(time.Second)
			res := a.DoSigned("POST", "/api/v1/identities", key, secret, body)
			if res.Status != 200 {
				t.Fatalf("link %d: %d %s", i, res.Status, res.Body)
			}
			m := res.Map(t)
			if m["customer_id"] != "C1" || m["identifiers"] != float64(3) {
				t.Fatalf("link %d: %s", i, res.Body)
			}
		}
		var n int
		_ = a.DB.GetContext(context.Background(), &n, `SELECT COUNT(*) FROM customer_identifiers WHERE value LIKE '%13800138000%'`)
		if n != 0 {
			t.Fatal("phone stored in clear")
		}
		conflict := map[string]any{"source": "mobile_app", "identifiers": map[string]string{"customer_id": "C2", "openid": "o1"}}
		if res := a.DoSigned("POST", "/api/v1/identities", key, secret, conflict); res.Status != 409 {
			t.Fatalf("conflict: %d %s", res.Status, res.Body)
		}
		bad := map[string]any{"source": "mobile_app", "identifiers": map[string]string{"phone": "not a phone"}}
		if res := a.DoSigned("POST", "/api/v1/identities", key, secret, bad); res.Status != 400 {
			t.Fatalf("bad phone: %d", res.Status)
		}
	})
}

func TestReversalAndDisputeOverHTTP(t *testing.T) {
	testapp.Each(t, testapp.Options{}, func(t *testing.T, a *testapp.App) {
		b := seedAttrBank(t, a)
		key, secret := a.Client("core-banking", "conversions:write", "touches:write")
		at := a.Clock.Now().Format(time.RFC3339)
		touch := map[string]any{"source": "branch", "external_id": "v1", "customer": map[string]string{"customer_id": "C1"},
			"staff_employee_no": "E1", "channel": "offline", "kind": "branch_visit", "occurred_at": at}
		if res := a.DoSigned("POST", "/api/v1/touches", key, secret, touch); res.Status != 201 {
			t.Fatalf("touch: %d %s", res.Status, res.Body)
		}
		a.Clock.Advance(time.Second)
		conv := map[string]any{"source": "cards", "external_id": "k1", "type": "account_opened", "amount_fen": 1000, "channel": "offline",
			"occurred_at": at, "customer": map[string]string{"customer_id": "C1"}}
		res := a.DoSigned("POST", "/api/v1/conversions", key, secret, conv)
		if res.Status != 201 {
			t.Fatalf("conversion: %d %s", res.Status, res.Body)
		}
		var x convOut
		res.JSON(t, &x)
		rev := map[string]any{"external_id": "cancel-1", "amount_fen": 400, "reason": "early redemption"}
		for i, want := range []int{200, 200} {
			a.Clock.Advance(time.Second)
			res := a.DoSigned("POST", "/api/v1/conversions/"+x.ID+"/reversal", key, secret, rev)
			var m struct {
				ReversedFen  int64 `json:"reversed_fen"`
				Attributions []struct {
					CreditedFen int64 `json:"credited_fen"`
				} `json:"attributions"`
			}
			res.JSON(t, &m)
			if res.Status != want || m.ReversedFen != 400 || m.Attributions[0].CreditedFen != 600 {
				t.Fatalf("reversal %d: %d %s", i, res.Status, res.Body)
			}
		}
		a.Clock.Advance(time.Second)
		if res := a.DoSigned("POST", "/api/v1/conversions/"+x.ID+"/reversal", key, secret, map[string]any{"external_id": "cancel-2", "amount_fen": 601}); res.Status != 409 {
			t.Fatalf("over-reversal: %d %s", res.Status, res.Body)
		}
		dispute := map[string]any{"campaign_id": idStr(b.Campaign), "from_staff_id": idStr(b.A), "to_staff_id": idStr(b.B), "reason": "B served the customer"}
		if res := a.Do("POST", "/api/v1/conversions/"+x.ID+"/disputes", a.Token(b.A), dispute); res.Status != 403 {
			t.Fatalf("staff proposes: %d", res.Status)
		}
		res = a.Do("POST", "/api/v1/conversions/"+x.ID+"/disputes", a.Token(b.H1), dispute)
		if res.Status != 201 {
			t.Fatalf("propose: %d %s", res.Status, res.Body)
		}
		id := res.Map(t)["id"].(string)
		if res := a.Do("POST", "/api/v1/disputes/"+id+"/approve", a.Token(b.H1), nil); res.Status != 403 {
			t.Fatalf("own approval: %d %s", res.Status, res.Body)
		}
		if res := a.Do("POST", "/api/v1/disputes/"+id+"/approve", a.Token(b.H2), map[string]string{"note": "checked the visit log"}); res.Status != 200 {
			t.Fatalf("approval: %d %s", res.Status, res.Body)
		}
		var after convOut
		a.Do("GET", "/api/v1/conversions/"+x.ID, a.Token(b.H1), nil).JSON(t, &after)
		net := map[string]int64{}
		for _, c := range after.Attributions[0].Credits {
			net[c.StaffID] += c.CreditedFen
		}
		if len(net) != 1 || net[idStr(b.B)] != 600 {
			t.Fatalf("after the move: %v", net)
		}
		var chk struct {
			OK bool `json:"ok"`
		}
		a.Do("GET", "/api/v1/attribution/check", a.Token(b.H2), nil).JSON(t, &chk)
		if !chk.OK {
			t.Fatal("check reports differences")
		}
	})
}

// TestAttributionIngestionNeedsScopes: a signed client without the scope of
// a route is refused (403 problem+json naming the scope) and nothing is
// written.
func TestAttributionIngestionNeedsScopes(t *testing.T) {
	testapp.Each(t, testapp.Options{}, func(t *testing.T, a *testapp.App) {
		key, secret := a.Client("events only", "events:write")
		conv := map[string]any{"source": "core", "external_id": "x1", "type": "account_opened", "customer": map[string]string{"customer_id": "C1"},
			"amount_fen": 100, "channel": "offline"}
		touch := map[string]any{"source": "cc", "external_id": "t1", "customer": map[string]string{"customer_id": "C1"},
			"staff_employee_no": "E1", "channel": "remote", "kind": "call"}
		for _, c := range []struct {
			path, scope string
			body        any
		}{
			{"/api/v1/conversions", "conversions:write", conv},
			{"/api/v1/conversions/batch", "conversions:write", map[string]any{"items": []any{conv}}},
			{"/api/v1/conversions/1/reversal", "conversions:write", map[string]any{"external_id": "r1"}},
			{"/api/v1/touches", "touches:write", touch},
			{"/api/v1/touches/batch", "touches:write", map[string]any{"items": []any{touch}}},
			{"/api/v1/identities", "identities:write", map[string]any{"source": "app", "identifiers": map[string]string{"customer_id": "C1", "openid": "o1"}}},
		} {
			a.Clock.Advance(time.Second)
			res := a.DoSigned("POST", c.path, key, secret, c.body)
			if res.Status != 403 || !strings.Contains(string(res.Body), c.scope) {
				t.Errorf("%s without %s: %d %s", c.path, c.scope, res.Status, res.Body)
			}
		}
		var n int
		if err := a.DB.GetContext(context.Background(), &n, `SELECT (SELECT COUNT(*) FROM conversions) + (SELECT COUNT(*) FROM touches) + (SELECT COUNT(*) FROM customer_identifiers)`); err != nil || n != 0 {
			t.Fatalf("rows written: %d, %v", n, err)
		}
	})
}
