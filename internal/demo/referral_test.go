package demo

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"rmref/internal/qrtest"
	"rmref/internal/testapp"
	"rmref/referral"
)

// TestDemoReferral: the seeded week of activity shows in a demo staff
// member's stats, seeding twice adds nothing, and their kit works end to
// end: the poster decodes to the qr_poster link, whose click lands on the
// campaign page with a valid rmref_t and shows in /me/stats.
func TestDemoReferral(t *testing.T) {
	testapp.Each(t, testapp.Options{}, func(t *testing.T, a *testapp.App) {
		ctx := context.Background()
		o, err := seedOrg(ctx, a.App)
		if err != nil {
			t.Fatal(err)
		}
		c, err := seedCampaign(ctx, a.App, o)
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := seedReferral(ctx, a.App, o, c); err != nil {
				t.Fatal(err)
			}
		}
		staff := o.SalesStaff[0]
		tok := a.Token(staff)
		camp := strconv.FormatInt(c.ID, 10)
		before := demoStats(t, a, tok, camp)
		if before.Clicks == 0 || before.Shares == 0 || before.UniqueVisitors == 0 || before.UniqueVisitors >= before.Clicks {
			t.Fatalf("seeded stats %+v: want clicks, shares and fewer unique visitors than clicks", before)
		}
		var kit struct {
			Code      string            `json:"code"`
			Links     map[string]string `json:"links"`
			PosterURL string            `json:"poster_url"`
		}
		a.Do("GET", "/api/v1/me/kit?campaign_id="+camp, tok, nil).JSON(t, &kit)
		img := a.Do("GET", strings.TrimPrefix(kit.PosterURL, a.Config.BaseURL), "", nil)
		link := decodePosterQR(t, img.Body)
		if link != kit.Links["qr_poster"] {
			t.Fatalf("poster decodes to %q, want %q", link, kit.Links["qr_poster"])
		}
		u, _ := url.Parse(link)
		req, _ := http.NewRequest("GET", a.URL+u.Path, nil)
		req.Header.Set("User-Agent", demoClickUAs[0])
		res, err := a.HTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		loc, _ := url.Parse(res.Header.Get("Location"))
		rt, err := referral.VerifyToken([]byte(a.Config.HashKey), loc.Query().Get(referral.TokenParam))
		if res.StatusCode != 302 || loc.Host != a.Config.LandingHosts[0] || err != nil || rt.Code != kit.Code {
			t.Fatalf("link: %d → %s (token %+v, %v)", res.StatusCode, loc, rt, err)
		}
		if after := demoStats(t, a, tok, camp); after.Clicks != before.Clicks+1 {
			t.Fatalf("clicks %d → %d, want +1", before.Clicks, after.Clicks)
		}
	})
}

func demoStats(t *testing.T, a *testapp.App, tok, camp string) referral.Stats {
	t.Helper()
	var st referral.Stats
	res := a.Do("GET", "/api/v1/me/stats?campaign_id="+camp, tok, nil)
	if res.Status != 200 {
		t.Fatalf("stats: %d %s", res.Status, res.Body)
	}
	res.JSON(t, &st)
	return st
}

func decodePosterQR(t *testing.T, b []byte) string {
	t.Helper()
	text, err := qrtest.Decode(b)
	if err != nil {
		t.Fatalf("poster QR: %v", err)
	}
	return text
}
