package server_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"rmref/internal/auth"
	"rmref/internal/testapp"
)

type boardOut struct {
	Items []struct {
		Rank     int      `json:"rank"`
		ID       string   `json:"id"`
		Name     string   `json:"name"`
		Value    *float64 `json:"value"`
		Visitors int64    `json:"unique_visitors"`
	} `json:"items"`
	NextCursor *string `json:"next_cursor"`
	Total      int64   `json:"total"`
}

// ranks lists "rank name value" per item ("-" for no value).
func (b boardOut) ranks() []string {
	var out []string
	for _, e := range b.Items {
		v := "-"
		if e.Value != nil {
			v = strconv.FormatFloat(*e.Value, 'f', -1, 64)
		}
		out = append(out, strconv.Itoa(e.Rank)+" "+e.Name+" "+v)
	}
	return out
}

// TestLeaderboardEndToEnd: shares, clicks from distinct visitors and a
// conversion through the real routes, then boards by metric, pagination,
// /me, CSV and visibility.
func TestLeaderboardEndToEnd(t *testing.T) {
	testapp.Each(t, testapp.Options{}, func(t *testing.T, a *testapp.App) {
		b := seedAttrBank(t, a)
		outsider := a.Seed().Staff("Z9", "外人", a.Seed().Unit("region", "RZ", "华南区", 0))
		tokA, tokB := a.Token(b.A), a.Token(b.B)
		base := "/api/v1/campaigns/" + idStr(b.Campaign) + "/leaderboard"
		share := func(tok string) {
			body := map[string]string{"campaign_id": idStr(b.Campaign), "channel": "wechat_moments"}
			if res := a.Do("POST", "/api/v1/shares", tok, body); res.Status != 201 && res.Status != 200 {
				t.Fatalf("share: %d %s", res.Status, res.Body)
			}
		}
		share(tokA)
		share(tokA)
		share(tokB)
		codeA, codeB := kitCode(t, a, b.A, b.Campaign), kitCode(t, a, b.B, b.Campaign)
		var vidA string
		for i := 0; i < 3; i++ { // three new visitors on A's link
			a.Clock.Advance(time.Minute)
			r := get(t, a, "/s/"+codeA+"/wechat_friend", "")
			for _, c := range r.Cookies() {
				if c.Name == "rmref_vid" {
					vidA = c.Value
				}
			}
		}
		a.Clock.Advance(time.Minute)
		get(t, a, "/s/"+codeB+"/wechat_friend", "")
		key, secret := a.Client("core-banking", "conversions:write", "touches:write")
		a.Clock.Advance(time.Minute)
		conv := map[string]any{"source": "core", "external_id": "x1", "type": "account_opened", "amount_fen": 100, "channel": "online",
			"occurred_at": a.Clock.Now().Format(time.RFC3339), "customer": map[string]string{"customer_id": "C1", "visitor_id": vidA}}
		if res := a.DoSigned("POST", "/api/v1/conversions", key, secret, conv); res.Status != 201 {
			t.Fatalf("conversion: %d %s", res.Status, res.Body)
		}
		board := func(t *testing.T, tok, query string) boardOut {
			t.Helper()
			res := a.Do("GET", base+query, tok, nil)
			if res.Status != 200 {
				t.Fatalf("board %s: %d %s", query, res.Status, res.Body)
			}
			var out boardOut
			res.JSON(t, &out)
			return out
		}
		for _, tc := range []struct{ query string }{
			{"?metric=shares"}, {"?metric=visitors"}, {"?metric=rate&min_visitors=3"}, {"?metric=conversions"}, {"?metric=clicks&level=team"},
		} {
			t.Run(tc.query, func(t *testing.T) {
				want := map[string][]string{
					"?metric=shares":              {"1 张三明 2", "2 李四 1"},
					"?metric=visitors":            {"1 张三明 3", "2 李四 1"},
					"?metric=rate&min_visitors=3": {"1 张三明 0.333333", "0 李四 -"},
					"?metric=conversions":         {"1 张三明 1", "2 李四 0"},
					"?metric=clicks&level=team":   {"1 财富一组 4"},
				}[tc.query]
				if diff := cmp.Diff(want, board(t, tokB, tc.query).ranks()); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			})
		}
		p1 := board(t, tokA, "?metric=visitors&limit=1")
		if len(p1.Items) != 1 || p1.Total != 2 || p1.NextCursor == nil {
			t.Fatalf("page 1: %+v", p1)
		}
		p2 := board(t, tokA, "?metric=visitors&limit=1&cursor="+*p1.NextCursor)
		if len(p2.Items) != 1 || p2.Items[0].Name != "李四" || p2.NextCursor != nil {
			t.Fatalf("page 2: %+v", p2)
		}
		var me struct {
			Entry struct {
				Rank int    `json:"rank"`
				Name string `json:"name"`
			} `json:"entry"`
		}
		a.Do("GET", base+"/me?metric=visitors", tokB, nil).JSON(t, &me)
		if me.Entry.Rank != 2 || me.Entry.Name != "李四" {
			t.Errorf("me = %+v", me)
		}
		a.Do("GET", base+"/me?metric=visitors&level=team", tokB, nil).JSON(t, &me)
		if me.Entry.Rank != 1 || me.Entry.Name != "财富一组" {
			t.Errorf("me at team level = %+v", me)
		}
		if res := a.Do("GET", base+"/me", a.Token(b.H1), nil); res.Status != 404 {
			t.Errorf("hq admin (not on the board) /me: %d", res.Status)
		}
		for _, req := range []struct{ query, accept string }{{"?format=csv&metric=visitors", ""}, {"?metric=visitors", "text/csv"}} {
			r, _ := http.NewRequest("GET", a.URL+base+req.query, nil)
			r.Header.Set("Authorization", "Bearer "+tokA)
			if req.accept != "" {
				r.Header.Set("Accept", req.accept)
			}
			res, err := a.HTTP.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			_, _ = buf.ReadFrom(res.Body)
			res.Body.Close()
			body := buf.Bytes()
			if !bytes.HasPrefix(body, []byte{0xEF, 0xBB, 0xBF}) || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") {
				t.Fatalf("CSV %q: no BOM or type %q", req.query, res.Header.Get("Content-Type"))
			}
			recs, err := csv.NewReader(bytes.NewReader(body[3:])).ReadAll()
			if err != nil || len(recs) != 3 || recs[1][0] != "1" || recs[1][2] != "张三明" || recs[1][3] != "3" || recs[2][2] != "李四" {
				t.Fatalf("CSV rows %q: %v", recs, err)
			}
		}
		var fn struct {
			Total struct {
				Counts map[string]float64  `json:"counts"`
				Rates  map[string]*float64 `json:"rates"`
			} `json:"total"`
		}
		a.Do("GET", "/api/v1/campaigns/"+idStr(b.Campaign)+"/funnel?by=week", tokA, nil).JSON(t, &fn)
		wantCounts := map[string]float64{"shares": 2, "clicks": 3, "unique_visitors": 3, "account_opened": 1}
		if diff := cmp.Diff(wantCounts, fn.Total.Counts); diff != "" || *fn.Total.Rates["clicks"] != 1.5 || *fn.Total.Rates["account_opened"] != 0.333333 {
			t.Errorf("A's funnel (-want +got):\n%s %v", diff, fn.Total.Rates)
		}
		camp := "/api/v1/campaigns/" + idStr(b.Campaign)
		if res := a.Do("GET", camp+"/channels", tokA, nil); res.Status != 403 {
			t.Errorf("channels as staff: %d", res.Status)
		}
		var ch struct {
			Conversions int64 `json:"conversions"`
			Models      []struct {
				Model string `json:"model"`
			} `json:"models"`
		}
		a.Do("GET", camp+"/channels", a.Token(b.H1), nil).JSON(t, &ch)
		if ch.Conversions != 1 || len(ch.Models) != 6 {
			t.Errorf("channels %+v", ch)
		}
		var ps struct {
			Converting []struct {
				Path string `json:"path"`
			} `json:"converting"`
		}
		a.Do("GET", camp+"/paths", a.Token(b.H1), nil).JSON(t, &ps)
		if len(ps.Converting) != 1 || ps.Converting[0].Path != "wechat_friend" {
			t.Errorf("paths %+v", ps)
		}
		// Managers see their own subtree's clicks, contacts and credited
		// conversions: Beijing's manager all of it, Shanghai's none, and a
		// manager outside the campaign nothing at all.
		unit := func(code string) int64 {
			var id int64
			if err := a.DB.GetContext(context.Background(), &id, `SELECT id FROM org_units WHERE code = ?`, code); err != nil {
				t.Fatal(err)
			}
			return id
		}
		mBJ := a.Seed().Staff("M1", "京经理", unit("BJ"), auth.RoleManager)
		mSH := a.Seed().Staff("M2", "沪经理", a.Seed().Unit("branch", "SH", "上海分行", unit("RG")), auth.RoleManager)
		mOut := a.Seed().Staff("M3", "南经理", unit("RZ"), auth.RoleManager)
		for _, m := range []struct {
			staff int64
			conv  int64
			paths int
		}{{mBJ, 1, 1}, {mSH, 0, 0}} {
			ch.Conversions, ps.Converting = -1, nil
			if res := a.Do("GET", camp+"/channels", a.Token(m.staff), nil); res.Status != 200 {
				t.Fatalf("channels as manager %d: %d %s", m.staff, res.Status, res.Body)
			} else {
				res.JSON(t, &ch)
			}
			a.Do("GET", camp+"/paths", a.Token(m.staff), nil).JSON(t, &ps)
			if ch.Conversions != m.conv || len(ps.Converting) != m.paths {
				t.Errorf("manager %d: channels %+v paths %+v", m.staff, ch, ps)
			}
		}
		for _, r := range []string{"/channels", "/paths"} {
			if res := a.Do("GET", camp+r, a.Token(mOut), nil); res.Status != 404 {
				t.Errorf("%s as a manager outside the campaign: %d", r, res.Status)
			}
			if res := a.Do("GET", camp+r, tokA, nil); res.Status != 403 {
				t.Errorf("%s as staff: %d", r, res.Status)
			}
		}
		if res := a.Do("GET", "/api/v1/customers/C1/journey", tokA, nil); res.Status != 200 || strings.Contains(string(res.Body), `"C1"`) {
			t.Errorf("journey for A: %d %s", res.Status, res.Body)
		}
		if res := a.Do("GET", "/api/v1/customers/C1/journey", tokB, nil); res.Status != 404 {
			t.Errorf("journey for B, who never served C1: %d", res.Status)
		}
		var mine struct {
			Items []struct {
				CreditedFen int64  `json:"credited_fen"`
				Customer    string `json:"customer"`
			} `json:"items"`
		}
		a.Do("GET", "/api/v1/me/conversions", tokA, nil).JSON(t, &mine)
		if len(mine.Items) != 1 || mine.Items[0].CreditedFen != 100 || mine.Items[0].Customer == "C1" {
			t.Errorf("A's conversions %+v", mine)
		}
		var ov struct {
			Items []struct {
				Figures struct {
					AmountFen int64   `json:"amount_fen"`
					Last7     float64 `json:"conversions_last_7_days"`
				} `json:"figures"`
			} `json:"items"`
		}
		a.Do("GET", "/api/v1/overview", a.Token(b.H1), nil).JSON(t, &ov)
		if len(ov.Items) != 1 || ov.Items[0].Figures.AmountFen != 100 || ov.Items[0].Figures.Last7 != 1 {
			t.Errorf("overview %+v", ov)
		}
		if res := a.Do("GET", "/api/v1/overview", tokA, nil); res.Status != 403 {
			t.Errorf("overview for staff: %d", res.Status)
		}
		if res := a.Do("GET", base, a.Token(outsider), nil); res.Status != 404 {
			t.Errorf("outsider: %d", res.Status)
		}
		if res := a.Do("GET", base+"?level=city", tokA, nil); res.Status != 400 {
			t.Errorf("bad level: %d", res.Status)
		}
	})
}
