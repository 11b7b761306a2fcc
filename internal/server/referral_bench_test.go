package server_test

import (
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"rmref/campaign"
	"rmref/internal/auth"
	"rmref/internal/poster"
	"rmref/internal/server"
	"rmref/internal/testapp"
)

// BenchmarkQRPNG renders one 512-pixel QR PNG of a share link (uncached).
func BenchmarkQRPNG(b *testing.B) {
	for b.Loop() {
		if _, err := server.QRPNG("http://localhost:8080/s/7K3M9QX2/qr_poster", 512); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPosterRender renders one poster with the default template
// (uncached: what the first fetch of each staff member costs).
func BenchmarkPosterRender(b *testing.B) {
	r, err := poster.New("")
	if err != nil {
		b.Skip(err)
	}
	tmpl := campaign.Template{Layout: poster.DefaultLayout(), Width: poster.DefaultWidth, Height: poster.DefaultHeight}
	for b.Loop() {
		_, err := campaign.RenderPoster(r, campaign.Campaign{Name: "信用卡推荐季"}, tmpl,
			campaign.Poster{URL: "http://localhost:8080/s/7K3M9QX2/qr_poster", StaffName: "张三明", UnitName: "朝阳支行", Code: "7K3M-9QX2"})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPosterCached fetches an already rendered poster over HTTP.
func BenchmarkPosterCached(b *testing.B) {
	a := testapp.Start(b, "sqlite", testapp.Options{})
	bank := seedRefBankTB(b, a, 1)
	path := posterPath(b, a, bank.staff[0], bank.campaign)
	a.Do("GET", path, "", nil) // render once
	b.ResetTimer()
	for b.Loop() {
		if res := a.Do("GET", path, "", nil); res.Status != 200 {
			b.Fatalf("poster: %d", res.Status)
		}
	}
}

// BenchmarkShareWave: every staff member of a branch fetches their kit and
// their (not yet rendered) poster at once. Run with -benchtime=40x for a
// branch of 40; ns/op is the cost per staff member.
func BenchmarkShareWave(b *testing.B) {
	a := testapp.Start(b, "sqlite", testapp.Options{})
	bank := seedRefBankTB(b, a, b.N)
	tokens := make([]string, b.N)
	for i, id := range bank.staff {
		tokens[i] = a.Token(id)
	}
	var next atomic.Int64
	b.ResetTimer()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1) - 1
			var kit struct {
				PosterURL string `json:"poster_url"`
			}
			a.Do("GET", "/api/v1/me/kit?campaign_id="+strconv.FormatInt(bank.campaign, 10), tokens[i], nil).JSON(b, &kit)
			if res := a.Do("GET", strings.TrimPrefix(kit.PosterURL, a.Config.BaseURL), "", nil); res.Status != 200 {
				b.Errorf("poster: %d", res.Status)
			}
		}
	})
}

type benchBank struct {
	staff    []int64
	campaign int64
}

// seedRefBankTB seeds a branch with n staff and a live campaign.
func seedRefBankTB(b testing.TB, a *testapp.App, n int) benchBank {
	b.Helper()
	s := a.Seed()
	hq := s.Unit("hq", "HQ", "总行", 0)
	br := s.Unit("branch", "CY", "朝阳支行", hq)
	admin := s.Staff("A0001", "钱总", hq, auth.RoleHQAdmin)
	var out benchBank
	for i := range n {
		out.staff = append(out.staff, s.Staff("E"+strconv.Itoa(i), "员工"+strconv.Itoa(i), br))
	}
	out.campaign = liveCampaign(b, a, admin, hq)
	return out
}

func posterPath(b testing.TB, a *testapp.App, staff, camp int64) string {
	b.Helper()
	var kit struct {
		PosterURL string `json:"poster_url"`
	}
	a.Do("GET", "/api/v1/me/kit?campaign_id="+strconv.FormatInt(camp, 10), a.Token(staff), nil).JSON(b, &kit)
	return strings.TrimPrefix(kit.PosterURL, a.Config.BaseURL)
}
