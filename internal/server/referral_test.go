package server_test

import (
	"context"
	"fmt"
	_ "image/png"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"rmref/campaign"
	"rmref/internal/auth"
	"rmref/internal/config"
	"rmref/internal/qrtest"
	"rmref/internal/testapp"
	"rmref/referral"
)

// refBank: HQ > branch (朝阳支行) with two staff and a manager, and a
// second branch with its own manager; one live campaign covering HQ.
type refBank struct {
	Staff, Colleague, Manager, Outsider, Admin int64
	Campaign, Draft                            int64
}

const wechatUA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 MicroMessenger/8.0.44"

func seedRefBank(t *testing.T, a *testapp.App) refBank {
	t.Helper()
	s := a.Seed()
	hq := s.Unit("hq", "HQ", "总行", 0)
	br := s.Unit("branch", "CY", "朝阳支行", hq)
	br2 := s.Unit("branch", "HD", "海淀支行", hq)
	b := refBank{
		Staff:     s.Staff("E1001", "张三明", br),
		Colleague: s.Staff("E1002", "李四", br),
		Manager:   s.Staff("M1001", "王经理", br, auth.RoleStaff, auth.RoleManager),
		Outsider:  s.Staff("M2001", "赵经理", br2, auth.RoleStaff, auth.RoleManager),
		Admin:     s.Staff("A0001", "钱总", hq, auth.RoleHQAdmin),
	}
	b.Campaign = liveCampaign(t, a, b.Admin, hq)
	b.Draft = newCampaign(t, a, b.Admin, hq, "draft-1", false)
	return b
}

// liveCampaign creates an active campaign covering unit.
func liveCampaign(t testing.TB, a *testapp.App, adminID, unit int64) int64 {
	return newCampaign(t, a, adminID, unit, "card-q4", true)
}

func newCampaign(t testing.TB, a *testapp.App, adminID, unit int64, code string, activate bool) int64 {
	t.Helper()
	ctx := context.Background()
	admin, err := auth.LoadStaffPrincipal(ctx, a.DB, adminID, 0)
	if err != nil {
		t.Fatal(err)
	}
	cs := campaign.NewService(a.DB, a.Clock, a.Config.LandingHosts)
	name, landing := "信用卡推荐季", "https://m.example-bank.cn/card?src=rm"
	start, end := a.Clock.Now().Add(-time.Hour), a.Clock.Now().Add(60*24*time.Hour)
	units := []int64{unit}
	convs := []campaign.ConversionRule{{Type: "card_approved"}}
	c, err := cs.Create(ctx, admin, campaign.Patch{Code: &code, Name: &name, StartAt: &start, EndAt: &end,
		LandingURL: &landing, UnitIDs: &units, Conversions: &convs})
	if err != nil {
		t.Fatalf("create campaign: %v", err)
	}
	if activate {
		if _, err := cs.Transition(ctx, admin, c.ID, campaign.StatusActive); err != nil {
			t.Fatalf("activate: %v", err)
		}
	}
	return c.ID
}

func idStr(id int64) string { return strconv.FormatInt(id, 10) }

// get sends a GET with a browser User-Agent and an optional visitor cookie.
func get(t *testing.T, a *testapp.App, path, vid string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", a.URL+path, nil)
	req.Header.Set("User-Agent", wechatUA)
	if vid != "" {
		req.AddCookie(&http.Cookie{Name: "rmref_vid", Value: vid})
	}
	res, err := a.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res
}

func decodeQR(t *testing.T, png []byte) string {
	t.Helper()
	text, err := qrtest.Decode(png)
	if err != nil {
		t.Fatalf("QR does not decode: %v", err)
	}
	return text
}

// zbarDecode decodes with zbarimg when it is installed ("" and false if not).
func zbarDecode(t *testing.T, png []byte) (string, bool) {
	t.Helper()
	text, ok, err := qrtest.Zbar(png)
	if err != nil {
		t.Fatal(err)
	}
	return text, ok
}

// TestReferralEndToEnd: kit → QR and poster decode to the qr_poster link →
// following it lands on the campaign page with a valid rmref_t → the click
// shows in /me/stats.
func TestReferralEndToEnd(t *testing.T) {
	testapp.Each(t, testapp.Options{}, func(t *testing.T, a *testapp.App) {
		b := seedRefBank(t, a)
		tok := a.Token(b.Staff)
		res := a.Do("GET", "/api/v1/me/kit?campaign_id="+idStr(b.Campaign), tok, nil)
		if res.Status != 200 {
			t.Fatalf("kit: %d %s", res.Status, res.Body)
		}
		var kit struct {
			Code      string            `json:"code"`
			Links     map[string]string `json:"links"`
			QRURL     string            `json:"qr_url"`
			PosterURL string            `json:"poster_url"`
		}
		res.JSON(t, &kit)
		want := a.Config.BaseURL + "/s/" + kit.Code + "/qr_poster"
		if kit.Links["qr_poster"] != want || len(kit.Links) != 8 {
			t.Fatalf("links %v, want qr_poster %s", kit.Links, want)
		}
		for _, u := range []string{kit.QRURL + "?size=256", kit.PosterURL} {
			img := a.Do("GET", strings.TrimPrefix(u, a.Config.BaseURL), "", nil)
			if img.Status != 200 || img.Header.Get("Content-Type") != "image/png" || img.Header.Get("ETag") == "" {
				t.Fatalf("%s: %d %s", u, img.Status, img.Header)
			}
			if got := decodeQR(t, img.Body); got != want {
				t.Fatalf("%s decodes to %q, want %q", u, got, want)
			}
			if got, ok := zbarDecode(t, img.Body); ok && got != want {
				t.Fatalf("zbarimg: %s decodes to %q, want %q", u, got, want)
			}
		}
		link, _ := url.Parse(want)
		r := get(t, a, link.Path, "")
		if r.StatusCode != http.StatusFound {
			t.Fatalf("link: %d", r.StatusCode)
		}
		loc, _ := url.Parse(r.Header.Get("Location"))
		if loc.Host != "m.example-bank.cn" || loc.Path != "/card" || loc.Query().Get("src") != "rm" {
			t.Fatalf("landed on %s", loc)
		}
		rt, err := referral.VerifyToken([]byte(a.Config.HashKey), loc.Query().Get(referral.TokenParam))
		if err != nil || rt.Code != kit.Code || rt.CampaignID != b.Campaign || rt.Channel != referral.ChannelQRPoster || !rt.Counted {
			t.Fatalf("token %+v, %v", rt, err)
		}
		var cookie *http.Cookie
		for _, c := range r.Cookies() {
			if c.Name == "rmref_vid" {
				cookie = c
			}
		}
		if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.MaxAge != 365*24*3600 {
			t.Fatalf("visitor cookie %+v", cookie)
		}
		var n int
		_ = a.DB.GetContext(context.Background(), &n, `SELECT COUNT(*) FROM referral_clicks WHERE click_id = ?`, rt.ClickID)
		if n != 1 {
			t.Fatalf("click %s stored %d times", rt.ClickID, n)
		}
		var st referral.Stats
		a.Do("GET", "/api/v1/me/stats?campaign_id="+idStr(b.Campaign), tok, nil).JSON(t, &st)
		day := a.Clock.Now().In(time.FixedZone("CST", 8*3600)).Format(time.DateOnly)
		if st.Clicks != 1 || st.UniqueVisitors != 1 || len(st.ByChannel) != 1 || st.ByChannel[0].Channel != referral.ChannelQRPoster ||
			len(st.ByDay) != 1 || st.ByDay[0].Date != day || st.Timezone != "Asia/Shanghai" {
			t.Fatalf("stats %+v", st)
		}
	})
}

// TestShareLinks: 404 pages, unknown channels, HEAD and preview bots,
// draft campaigns, and open-redirect attempts that cannot move the target.
func TestShareLinks(t *testing.T) {
	testapp.Each(t, testapp.Options{}, func(t *testing.T, a *testapp.App) {
		b := seedRefBank(t, a)
		var kit struct{ Code string }
		a.Do("GET", "/api/v1/me/kit?campaign_id="+idStr(b.Campaign), a.Token(b.Staff), nil).JSON(t, &kit)
		code := kit.Code
		for _, p := range []string{"/s/ZZZZZZZZ", "/s/" + code[:7], "/s/%27%20OR%201=1--", "/s/" + strings.Repeat("A", 5000),
			"/s/%E5%BC%A0%E4%B8%89", "/s/" + code + "x"} {
			r := get(t, a, p, "")
			if r.StatusCode != 404 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
				t.Errorf("%s: %d %s, want the 404 page", p[:min(len(p), 40)], r.StatusCode, r.Header.Get("Content-Type"))
			}
		}
		for _, p := range []string{
			"/s/" + code + "?next=https://evil.example/", "/s/" + code + "/https:%2F%2Fevil.example",
			"/s/" + code + "//evil.example", "/s/" + code + "/%0d%0aLocation:%20https://evil.example",
			"/s/" + strings.ToLower(code) + "/" + strings.Repeat("x", 3000), "/s/" + code + "/%E5%BE%AE%E4%BF%A1",
		} {
			r := get(t, a, p, "")
			loc, _ := url.Parse(r.Header.Get("Location"))
			if r.StatusCode != 302 || loc == nil || loc.Host != "m.example-bank.cn" || strings.Contains(r.Header.Get("Location"), "evil") {
				t.Errorf("%s: %d → %q", p[:min(len(p), 60)], r.StatusCode, r.Header.Get("Location"))
			}
		}
		var other int
		_ = a.DB.GetContext(context.Background(), &other, `SELECT COUNT(*) FROM referral_clicks WHERE channel = 'other'`)
		if other != 6 {
			t.Errorf("%d clicks recorded as other, want 6", other)
		}
		req, _ := http.NewRequest("HEAD", a.URL+"/s/"+code+"/wechat_friend", nil)
		req.Header.Set("User-Agent", wechatUA)
		if r, err := a.HTTP.Do(req); err != nil || r.StatusCode != 302 {
			t.Fatalf("HEAD: %v %v", r, err)
		}
		req, _ = http.NewRequest("GET", a.URL+"/s/"+code+"/wechat_moments", nil)
		req.Header.Set("User-Agent", "facebookexternalhit/1.1")
		if _, err := a.HTTP.Do(req); err != nil {
			t.Fatal(err)
		}
		var bots int
		_ = a.DB.GetContext(context.Background(), &bots, `SELECT COUNT(*) FROM referral_clicks WHERE bot = 1 AND counted = 0 AND reason = 'bot'`)
		if bots != 2 {
			t.Errorf("%d bot clicks, want 2 (HEAD, preview fetcher)", bots)
		}
		if res := a.Do("GET", "/api/v1/me/kit?campaign_id="+idStr(b.Draft), a.Token(b.Staff), nil); res.Status != 404 {
			t.Errorf("kit of a draft campaign: %d", res.Status)
		}
	})
}

// TestCodeLookupAndRevoke: masked owner, uniform 404s, rate limit, and the
// revoke/reissue routes with their scope.
func TestCodeLookupAndRevoke(t *testing.T) {
	testapp.Each(t, testapp.Options{}, func(t *testing.T, a *testapp.App) {
		b := seedRefBank(t, a)
		var kit struct{ Code string }
		a.Do("GET", "/api/v1/me/kit?campaign_id="+idStr(b.Campaign), a.Token(b.Staff), nil).JSON(t, &kit)
		res := a.Do("GET", "/api/v1/codes/"+strings.ToLower(kit.Code[:4])+"-"+kit.Code[4:], "", nil)
		if m := res.Map(t); res.Status != 200 || m["display"] != "张*明 · 朝阳支行" {
			t.Fatalf("lookup: %d %s", res.Status, res.Body)
		}
		for _, c := range []string{"ZZZZZZZZ", "%27%3B%20DROP%20TABLE%20staff", "%E5%BC%A0", strings.Repeat("9", 200)} {
			if r := a.Do("GET", "/api/v1/codes/"+c, "", nil); r.Status != 404 {
				t.Errorf("lookup %q: %d", c, r.Status)
			}
		}
		if r := a.Do("POST", "/api/v1/codes/"+kit.Code+"/revoke", a.Token(b.Colleague), nil); r.Status != 404 {
			t.Fatalf("colleague revokes: %d", r.Status)
		}
		if r := a.Do("POST", "/api/v1/codes/"+kit.Code+"/revoke", a.Token(b.Outsider), nil); r.Status != 404 {
			t.Fatalf("outside manager revokes: %d", r.Status)
		}
		if r := a.Do("POST", "/api/v1/codes/"+kit.Code+"/revoke", a.Token(b.Manager), nil); r.Status != 200 {
			t.Fatalf("manager revokes: %d %s", r.Status, r.Body)
		}
		if r := a.Do("GET", "/api/v1/codes/"+kit.Code, "", nil); r.Status != 404 {
			t.Fatalf("lookup of revoked code: %d", r.Status)
		}
		if r := a.Do("GET", "/api/v1/codes/"+kit.Code+"/qr.png", "", nil); r.Status != 404 {
			t.Fatalf("QR of revoked code: %d", r.Status)
		}
		r := get(t, a, "/s/"+kit.Code, "")
		if loc := r.Header.Get("Location"); r.StatusCode != 302 || strings.Contains(loc, referral.TokenParam) {
			t.Fatalf("revoked link: %d %s", r.StatusCode, loc)
		}
		re := a.Do("POST", "/api/v1/codes/"+kit.Code+"/reissue", a.Token(b.Staff), nil)
		if m := re.Map(t); re.Status != 201 || m["code"] == kit.Code {
			t.Fatalf("reissue: %d %s", re.Status, re.Body)
		}
		// rate limit: a burst of 20, then 429 with Retry-After
		var last testapp.Response
		for range 25 {
			last = a.Do("GET", "/api/v1/codes/ZZZZZZZZ", "", nil)
		}
		if last.Status != 429 || last.Header.Get("Retry-After") == "" {
			t.Fatalf("after 25 lookups: %d Retry-After=%q", last.Status, last.Header.Get("Retry-After"))
		}
	})
}

// TestSharesAndStatsScope: shares are counted per staff member; stats are
// readable by oneself, a manager in scope and HQ, and 404 elsewhere.
func TestSharesAndStatsScope(t *testing.T) {
	testapp.Each(t, testapp.Options{}, func(t *testing.T, a *testapp.App) {
		b := seedRefBank(t, a)
		tok := a.Token(b.Staff)
		camp := idStr(b.Campaign)
		for _, ch := range []string{"wechat_friend", "wechat_friend", "wechat_moments"} {
			if r := a.Do("POST", "/api/v1/shares", tok, map[string]string{"campaign_id": camp, "channel": ch}); r.Status != 201 {
				t.Fatalf("share: %d %s", r.Status, r.Body)
			}
		}
		for _, body := range []any{map[string]string{"campaign_id": camp, "channel": "telegram"}, map[string]string{"campaign_id": "1 OR 1=1", "channel": "sms"},
			map[string]any{"campaign_id": 5, "channel": "sms"}, []byte("{")} {
			if r := a.Do("POST", "/api/v1/shares", tok, body); r.Status != 400 {
				t.Errorf("share %v: %d", body, r.Status)
			}
		}
		cases := []struct {
			name   string
			reader int64
			status int
		}{{"self", b.Staff, 200}, {"colleague", b.Colleague, 404}, {"manager", b.Manager, 200}, {"other manager", b.Outsider, 404}, {"hq", b.Admin, 200}}
		for _, tc := range cases {
			r := a.Do("GET", "/api/v1/staff/"+idStr(b.Staff)+"/stats?campaign_id="+camp, a.Token(tc.reader), nil)
			if r.Status != tc.status {
				t.Errorf("%s: %d, want %d", tc.name, r.Status, tc.status)
				continue
			}
			if r.Status == 200 {
				var st referral.Stats
				r.JSON(t, &st)
				if st.Shares != 3 || len(st.ByChannel) != 2 || st.ByChannel[0].Shares != 2 {
					t.Errorf("%s: stats %+v", tc.name, st)
				}
			}
		}
	})
}

// TestReferralMalformedInput: bad sizes, ids and codes are 400/404, never
// a 500; images answer If-None-Match with 304; behind https the visitor
// cookie is Secure.
func TestReferralMalformedInput(t *testing.T) {
	opts := testapp.Options{Config: func(c *config.Config) { c.BaseURL = "https://rm.example-bank.cn" }}
	testapp.Each(t, opts, func(t *testing.T, a *testapp.App) {
		b := seedRefBank(t, a)
		tok := a.Token(b.Staff)
		var kit struct{ Code string }
		a.Do("GET", "/api/v1/me/kit?campaign_id="+idStr(b.Campaign), tok, nil).JSON(t, &kit)
		cases := []struct {
			method, path string
			status       int
		}{
			{"GET", "/api/v1/codes/" + kit.Code + "/qr.png?size=99999", 400},
			{"GET", "/api/v1/codes/" + kit.Code + "/qr.png?size=12", 400},
			{"GET", "/api/v1/codes/" + kit.Code + "/qr.png?size=%27%3B--", 400},
			{"GET", "/api/v1/codes/%00%01/qr.png", 404},
			{"GET", "/api/v1/codes/" + strings.Repeat("Z", 300) + "/poster.png", 404},
			{"POST", "/api/v1/codes/%27%20OR%201%3D1/revoke", 404},
			{"GET", "/api/v1/staff/abc/stats", 404},
			{"GET", "/api/v1/staff/99999999999999999999/stats", 404},
			{"GET", "/api/v1/me/stats?campaign_id=-1", 400},
			{"GET", "/api/v1/me/stats?campaign_id=1%3BDROP", 400},
			{"GET", "/api/v1/me/kit?campaign_id=999999", 404},
		}
		for _, tc := range cases {
			if r := a.Do(tc.method, tc.path, tok, nil); r.Status != tc.status {
				t.Errorf("%s %s: %d, want %d (%s)", tc.method, tc.path, r.Status, tc.status, r.Body)
			}
		}
		qr := "/api/v1/codes/" + kit.Code + "/qr.png?size=200"
		first := a.Do("GET", qr, "", nil)
		req, _ := http.NewRequest("GET", a.URL+qr, nil)
		req.Header.Set("If-None-Match", first.Header.Get("ETag"))
		if res, err := a.HTTP.Do(req); err != nil || res.StatusCode != http.StatusNotModified {
			t.Fatalf("If-None-Match: %v %v", res, err)
		}
		r := get(t, a, "/s/"+kit.Code, "")
		var secure bool
		for _, c := range r.Cookies() {
			secure = secure || (c.Name == "rmref_vid" && c.Secure)
		}
		if !secure {
			t.Fatal("visitor cookie not Secure behind https")
		}
		if d := decodeQR(t, first.Body); d != "https://rm.example-bank.cn/s/"+kit.Code+"/qr_poster" {
			t.Fatalf("QR decodes to %q", d)
		}
	})
}

// TestClickBurstIsConfigured: with RMREF_CLICK_BURST=2 the third click from
// one IP on one code within a minute is recorded but not counted.
func TestClickBurstIsConfigured(t *testing.T) {
	testapp.Each(t, testapp.Options{Config: func(c *config.Config) { c.ClickBurst = 2 }}, func(t *testing.T, a *testapp.App) {
		b := seedRefBank(t, a)
		var kit struct {
			Code string `json:"code"`
		}
		a.Do("GET", "/api/v1/me/kit?campaign_id="+idStr(b.Campaign), a.Token(b.Staff), nil).JSON(t, &kit)
		for i := range 3 {
			if r := get(t, a, "/s/"+kit.Code+"/wechat_moments", fmt.Sprintf("vid-%d", i)); r.StatusCode != http.StatusFound {
				t.Fatalf("click %d: %d", i, r.StatusCode)
			}
		}
		var reasons []string
		if err := a.DB.SelectContext(context.Background(), &reasons, `SELECT reason FROM referral_clicks ORDER BY id`); err != nil {
			t.Fatal(err)
		}
		if want := []string{"", "", referral.ReasonBurst}; !slices.Equal(reasons, want) {
			t.Fatalf("reasons %q, want %q", reasons, want)
		}
	})
}
