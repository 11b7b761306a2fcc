package server_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"rmref/internal/dbtest"
	"rmref/internal/server"
	"rmref/internal/testapp"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

func TestHealthAndProblems(t *testing.T) {
	testapp.Each(t, testapp.Options{}, func(t *testing.T, a *testapp.App) {
		if r := a.Do("GET", "/healthz", "", nil); r.Status != 200 {
			t.Fatalf("healthz: %d", r.Status)
		}
		r := a.Do("GET", "/readyz", "", nil)
		if r.Status != 200 || !strings.Contains(string(r.Body), `"ready"`) {
			t.Fatalf("readyz: %d %s", r.Status, r.Body)
		}
		if r.Header.Get("X-Request-Id") == "" {
			t.Error("no X-Request-Id")
		}
		r = a.Do("GET", "/api/v1/no-such-thing", "", nil)
		if r.Status != 404 || r.Header.Get("Content-Type") != "application/problem+json" {
			t.Fatalf("unknown route: %d %q", r.Status, r.Header.Get("Content-Type"))
		}
		p := r.Map(t)
		if p["type"] != "/problems/not_found" || p["status"] != float64(404) {
			t.Fatalf("problem = %v", p)
		}
	})
}

func TestParseAt(t *testing.T) {
	sh, _ := time.LoadLocation("Asia/Shanghai")
	def := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		in   string
		want time.Time
		bad  bool
	}{
		{"", def, false},
		// The end of 2026-03-01 in Shanghai is 2026-03-01T15:59:59.999999Z.
		{"2026-03-01", time.Date(2026, 3, 1, 15, 59, 59, 999999000, time.UTC), false},
		{"2026-03-01T08:00:00+08:00", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), false},
		{"01/03/2026", time.Time{}, true},
	}
	for _, c := range cases {
		got, err := server.ParseAt(c.in, sh, def)
		if (err != nil) != c.bad || (!c.bad && !got.Equal(c.want)) {
			t.Errorf("ParseAt(%q) = %v, %v; want %v (error %v)", c.in, got, err, c.want, c.bad)
		}
	}
}

func TestCursorRoundTrip(t *testing.T) {
	id, err := server.IDCursor(server.EncodeCursor("42"))
	if err != nil || id != 42 {
		t.Fatalf("IDCursor = %d, %v", id, err)
	}
	if _, err := server.IDCursor("!!!"); err == nil {
		t.Fatal("bad cursor accepted")
	}
}
