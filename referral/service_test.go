package referral_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"rmref/internal/auth"
	"rmref/internal/clock"
	"rmref/internal/db"
	"rmref/internal/dbtest"
	"rmref/internal/testapp"
	"rmref/referral"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

var t0 = time.Date(2026, 11, 2, 2, 0, 0, 0, time.UTC)

// campaigns is a fixed campaign list (the campaign package is tested on
// its own; referral only reads campaigns through this interface).
type campaigns map[int64]referral.Campaign

func (c campaigns) Campaign(_ context.Context, id int64) (referral.Campaign, error) {
	if x, ok := c[id]; ok {
		return x, nil
	}
	return referral.Campaign{}, referral.ErrNoCampaign
}

func (c campaigns) Covers(_ context.Context, id int64, unitPath string) (bool, error) {
	_, ok := c[id]
	return ok, nil
}

type world struct {
	d        *db.DB
	clk      *clock.Manual
	svc      *referral.Service
	staff    int64
	other    int64
	manager  int64
	outsider int64
}

func newWorld(t *testing.T, d *db.DB, camps campaigns) world {
	t.Helper()
	return newWorldTB(t, d, camps)
}

func newBenchWorld(b *testing.B, d *db.DB) world { return newWorldTB(b, d, live()) }

func newWorldTB(t testing.TB, d *db.DB, camps campaigns) world {
	t.Helper()
	s := testapp.NewSeeder(t, d)
	hq := s.Unit("hq", "HQ", "总行", 0)
	br := s.Unit("branch", "B1", "朝阳支行", hq)
	br2 := s.Unit("branch", "B2", "海淀支行", hq)
	w := world{d: d, clk: clock.NewManual(t0)}
	w.staff = s.Staff("E1", "张三明", br)
	w.other = s.Staff("E2", "李四", br)
	w.manager = s.Staff("M1", "王经理", br, auth.RoleStaff, auth.RoleManager)
	w.outsider = s.Staff("M2", "赵经理", br2, auth.RoleStaff, auth.RoleManager)
	w.svc = referral.NewService(d, w.clk, camps, referral.Config{HashKey: []byte("test-hash-key-0123456789"),
		BankLandingURL: "https://m.example-bank.cn/join", Location: time.UTC, Writer: referral.WriterOptions{BurstLimit: 3}})
	t.Cleanup(func() { w.svc.Close(context.Background()) })
	return w
}

func live() campaigns {
	return campaigns{7: {ID: 7, Name: "Card", Status: referral.StatusActive, Start: t0.Add(-time.Hour), End: t0.Add(30 * 24 * time.Hour),
		Location: time.FixedZone("CST", 8*3600), LandingURL: "https://m.example-bank.cn/card?from=rm"}}
}

func principalOf(t *testing.T, d *db.DB, id int64) auth.Principal {
	t.Helper()
	p, err := auth.LoadStaffPrincipal(context.Background(), d, id, 0)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

const browser = "Mozilla/5.0 (iPhone) AppleWebKit/605.1.15 Mobile/15E148 MicroMessenger/8.0.44"

func click(t *testing.T, w world, code, vid string) referral.Redirect {
	t.Helper()
	r, err := w.svc.Click(context.Background(), referral.ClickRequest{Code: code, Channel: "wechat_friend", Method: "GET",
		UserAgent: browser, IP: "203.0.113.9", VisitorID: vid})
	if err != nil {
		t.Fatalf("click %s: %v", code, err)
	}
	return r
}

// TestGroupCommitDurability: N concurrent clicks give exactly N rows,
// written in fewer commits than clicks.
func TestGroupCommitDurability(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d, live())
		code, err := w.svc.CodeFor(context.Background(), w.staff, 7)
		if err != nil {
			t.Fatal(err)
		}
		const n = 200
		var wg sync.WaitGroup
		ids := make(chan string, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := w.svc.Click(context.Background(), referral.ClickRequest{Code: code.Code, Method: "GET",
					UserAgent: browser, IP: fmt.Sprint("198.51.100.", i%250)})
				if err != nil {
					t.Error(err)
					return
				}
				ids <- r.Click.ClickID
			}()
		}
		wg.Wait()
		close(ids)
		var rows int
		if err := d.GetContext(context.Background(), &rows, `SELECT COUNT(*) FROM referral_clicks`); err != nil {
			t.Fatal(err)
		}
		got := 0
		for id := range ids {
			var k int
			if err := d.GetContext(context.Background(), &k, `SELECT COUNT(*) FROM referral_clicks WHERE click_id = ?`, id); err != nil || k != 1 {
				t.Fatalf("click %s stored %d times (%v)", id, k, err)
			}
			got++
		}
		if rows != n || got != n {
			t.Fatalf("%d rows, %d acknowledged, want %d", rows, got, n)
		}
		if c := w.svc.Writer().Commits(); c >= n {
			t.Fatalf("%d commits for %d clicks: no group commit", c, n)
		} else {
			t.Logf("%d clicks in %d commits", n, c)
		}
	})
}

// TestRevokeSemantics: a revoked code stops counting at the revocation
// instant, keeps its history, and a reissued code replaces it.
func TestRevokeSemantics(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		w := newWorld(t, d, live())
		old, err := w.svc.CodeFor(ctx, w.staff, 7)
		if err != nil {
			t.Fatal(err)
		}
		if again, _ := w.svc.CodeFor(ctx, w.staff, 7); again.Code != old.Code {
			t.Fatalf("second CodeFor gave %s, want the same %s", again.Code, old.Code)
		}
		before := click(t, w, old.Code, "")
		if !before.TokenGiven || !before.Click.Counted {
			t.Fatalf("click before revocation: %+v", before)
		}
		// another staff member (not a manager) may not revoke it
		if _, err := w.svc.Revoke(ctx, principalOf(t, d, w.other), old.Code); !errors.Is(err, referral.ErrCodeNotFound) {
			t.Fatalf("revoke by a colleague: %v, want not found", err)
		}
		// a manager of another branch neither
		if _, err := w.svc.Revoke(ctx, principalOf(t, d, w.outsider), old.Code); !errors.Is(err, referral.ErrCodeNotFound) {
			t.Fatalf("revoke by an outside manager: %v, want not found", err)
		}
		w.clk.Advance(time.Minute)
		rev, err := w.svc.Revoke(ctx, principalOf(t, d, w.manager), old.Code)
		if err != nil {
			t.Fatal(err)
		}
		if !rev.RevokedAt.Equal(w.clk.Now()) {
			t.Fatalf("revoked at %s, want %s", rev.RevokedAt, w.clk.Now())
		}
		if _, err := w.svc.Revoke(ctx, principalOf(t, d, w.staff), old.Code); !errors.Is(err, referral.ErrCodeRevoked) {
			t.Fatalf("second revoke: %v", err)
		}
		after := click(t, w, old.Code, "")
		if after.TokenGiven || after.Click.Counted || after.Click.Reason != referral.ReasonRevoked {
			t.Fatalf("click after revocation: token=%v counted=%v reason=%q", after.TokenGiven, after.Click.Counted, after.Click.Reason)
		}
		if _, err := w.svc.Lookup(ctx, old.Code); !errors.Is(err, referral.ErrCodeNotFound) {
			t.Fatalf("lookup of revoked code: %v", err)
		}
		fresh, err := w.svc.CodeFor(ctx, w.staff, 7)
		if err != nil || fresh.Code == old.Code {
			t.Fatalf("new code after revocation: %v %v", fresh, err)
		}
		re, err := w.svc.Reissue(ctx, principalOf(t, d, w.staff), fresh.Code)
		if err != nil || re.Code == fresh.Code {
			t.Fatalf("reissue: %v %v", re, err)
		}
		got, err := referral.LookupCode(ctx, d, old.Code)
		if err != nil || got.RevokedAt.IsZero() || got.ActiveAt(w.clk.Now()) || !got.ActiveAt(rev.RevokedAt.Add(-time.Microsecond)) {
			t.Fatalf("LookupCode(old) = %+v, %v", got, err)
		}
		st, err := w.svc.Stats(ctx, principalOf(t, d, w.staff), w.staff, 7)
		if err != nil || st.Clicks != 1 || st.NotCounted != 1 {
			t.Fatalf("stats keep history: %+v %v", st, err)
		}
		var audits int
		_ = d.GetContext(ctx, &audits, `SELECT COUNT(*) FROM audit_log WHERE entity_type = 'referral_code'`)
		if audits != 3 { // revoke; reissue = revoke + reissue
			t.Fatalf("%d audit entries, want 3", audits)
		}
	})
}

// TestUniqueWithin24h: the first click of a visitor on a code within 24 h
// is unique; the clock decides.
func TestUniqueWithin24h(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d, live())
		code, _ := w.svc.CodeFor(context.Background(), w.staff, 7)
		first := click(t, w, code.Code, "")
		vid := first.VisitorID
		w.clk.Advance(23*time.Hour + 59*time.Minute)
		second := click(t, w, code.Code, vid)
		w.clk.Advance(2 * time.Minute) // 24h01m after the first, 2 min after the second
		third := click(t, w, code.Code, vid)
		w.clk.Advance(24*time.Hour + time.Second)
		fourth := click(t, w, code.Code, vid)
		got := []bool{first.Click.Unique, second.Click.Unique, third.Click.Unique, fourth.Click.Unique}
		want := []bool{true, false, false, true}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("unique flags %v, want %v", got, want)
			}
		}
	})
}

// TestSelfClickAndBurst: a visitor id seen on the staff member's own
// session is a self-click; past the burst limit an IP's clicks stop counting.
func TestSelfClickAndBurst(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		w := newWorld(t, d, live())
		code, _ := w.svc.CodeFor(ctx, w.staff, 7)
		own := w.svc.NewVisitorID()
		if err := w.svc.RememberVisitor(ctx, w.staff, own); err != nil {
			t.Fatal(err)
		}
		if r := click(t, w, code.Code, own); r.Click.Counted || r.Click.Reason != referral.ReasonSelfClick {
			t.Fatalf("own click: counted=%v reason=%q", r.Click.Counted, r.Click.Reason)
		}
		w.clk.Advance(2 * time.Minute)
		var reasons []string
		for range 5 { // limit 3 per minute from one IP on one code
			reasons = append(reasons, click(t, w, code.Code, "").Click.Reason)
		}
		want := []string{"", "", "", referral.ReasonBurst, referral.ReasonBurst}
		if fmt.Sprint(reasons) != fmt.Sprint(want) {
			t.Fatalf("reasons %q, want %q", reasons, want)
		}
	})
}

// TestCampaignStates: draft → not found; paused, ended and not yet
// started → landing page without a token, recorded with the reason.
func TestCampaignStates(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		camps := live()
		w := newWorld(t, d, camps)
		code, _ := w.svc.CodeFor(ctx, w.staff, 7)
		cases := []struct {
			status     string
			start, end time.Time
			reason     string
		}{
			{referral.StatusPaused, t0.Add(-time.Hour), t0.Add(time.Hour * 900), referral.ReasonCampaignPaused},
			{referral.StatusEnded, t0.Add(-time.Hour), t0.Add(time.Hour * 900), referral.ReasonCampaignEnded},
			{referral.StatusActive, t0.Add(-time.Hour), t0.Add(time.Hour), referral.ReasonCampaignEnded},
			{referral.StatusActive, t0.Add(900 * time.Hour), t0.Add(2000 * time.Hour), referral.ReasonOutsideDates},
		}
		for _, tc := range cases {
			c := camps[7]
			c.Status, c.Start, c.End = tc.status, tc.start, tc.end
			camps[7] = c
			w.clk.Advance(time.Hour) // past the lookup cache
			r := click(t, w, code.Code, "")
			if r.TokenGiven || r.Click.Counted || r.Click.Reason != tc.reason || r.Location != c.LandingURL {
				t.Errorf("%s: token=%v counted=%v reason=%q location=%s", tc.reason, r.TokenGiven, r.Click.Counted, r.Click.Reason, r.Location)
			}
		}
		c := camps[7]
		c.Status = referral.StatusDraft
		camps[7] = c
		w.clk.Advance(time.Hour)
		if _, err := w.svc.Click(ctx, referral.ClickRequest{Code: code.Code, Method: "GET", UserAgent: browser}); !errors.Is(err, referral.ErrCodeNotFound) {
			t.Fatalf("draft campaign: %v", err)
		}
	})
}

// TestStatsScope: a staff member reads only their own figures; a manager
// reads their subtree; outside it is not found.
func TestStatsScope(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		w := newWorld(t, d, live())
		cases := []struct {
			name   string
			reader int64
			ok     bool
		}{{"self", w.staff, true}, {"colleague", w.other, false}, {"branch manager", w.manager, true}, {"other branch manager", w.outsider, false}}
		for _, tc := range cases {
			_, err := w.svc.Stats(ctx, principalOf(t, d, tc.reader), w.staff, 7)
			if (err == nil) != tc.ok || (err != nil && !errors.Is(err, referral.ErrNotInScope)) {
				t.Errorf("%s: err = %v, want ok=%v", tc.name, err, tc.ok)
			}
		}
	})
}

// TestCloseFlushesInFlight: clicks already handed to the writer when it
// closes (SIGTERM) are committed; later ones are refused, never lost
// silently.
func TestCloseFlushesInFlight(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		w := newWorld(t, d, live())
		code, _ := w.svc.CodeFor(ctx, w.staff, 7)
		const n = 100
		var wg sync.WaitGroup
		var mu sync.Mutex
		var acked []string
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := w.svc.Click(ctx, referral.ClickRequest{Code: code.Code, Method: "GET", UserAgent: browser, IP: fmt.Sprint("192.0.2.", i)})
				if err != nil {
					if !errors.Is(err, referral.ErrWriterClosed) {
						t.Error(err)
					}
					return
				}
				mu.Lock()
				acked = append(acked, r.Click.ClickID)
				mu.Unlock()
			}()
		}
		time.Sleep(time.Millisecond)
		if err := w.svc.Close(ctx); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		var rows int
		_ = d.GetContext(ctx, &rows, `SELECT COUNT(*) FROM referral_clicks`)
		if rows != len(acked) {
			t.Fatalf("%d rows, %d clicks acknowledged", rows, len(acked))
		}
		if _, err := w.svc.Click(ctx, referral.ClickRequest{Code: code.Code, Method: "GET", UserAgent: browser}); !errors.Is(err, referral.ErrWriterClosed) {
			t.Fatalf("click after close: %v", err)
		}
		t.Logf("%d of %d clicks in before close", len(acked), n)
	})
}
