package demo

import (
	"context"
	"testing"
	"time"

	"rmref/attribution"
	"rmref/internal/testapp"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// activityCounts are the rows the demo activity adds, table by table.
type activityCounts struct {
	Conversions, Reversals, Touches, Links, Clicks, Bots, Shares, Credits int
	TokenOrCode                                                           int
}

func countActivity(t *testing.T, a *testapp.App, campaignID int64) activityCounts {
	t.Helper()
	var n activityCounts
	for _, q := range []struct {
		dst  *int
		sql  string
		args []any
	}{
		{&n.Conversions, `SELECT COUNT(*) FROM conversions WHERE source = ?`, []any{activitySource}},
		{&n.TokenOrCode, `SELECT COUNT(*) FROM conversions WHERE source = ? AND (referral_token <> '' OR invitation_code <> '')`, []any{activitySource}},
		{&n.Reversals, `SELECT COUNT(*) FROM conversion_reversals`, nil},
		{&n.Touches, `SELECT COUNT(*) FROM touches WHERE source = ?`, []any{activitySource}},
		{&n.Links, `SELECT COUNT(*) FROM identity_links WHERE source = ?`, []any{activityIdentity}},
		{&n.Clicks, `SELECT COUNT(*) FROM referral_clicks WHERE campaign_id = ?`, []any{campaignID}},
		{&n.Bots, `SELECT COUNT(*) FROM referral_clicks WHERE campaign_id = ? AND bot = 1`, []any{campaignID}},
		{&n.Shares, `SELECT COUNT(*) FROM referral_shares WHERE campaign_id = ?`, []any{campaignID}},
		{&n.Credits, `SELECT COUNT(*) FROM credits WHERE campaign_id = ?`, []any{campaignID}},
	} {
		if err := a.DB.GetContext(context.Background(), q.dst, q.sql, q.args...); err != nil {
			t.Fatalf("%s: %v", q.sql, err)
		}
	}
	return n
}

// TestDemoActivity: a month of activity fills every table it touches,
// seeding again adds nothing, and the campaign's staff board, funnel and
// channels report show non-zero figures.
func TestDemoActivity(t *testing.T) {
	now := time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC)
	testapp.Each(t, testapp.Options{Now: now}, func(t *testing.T, a *testapp.App) {
		ctx := context.Background()
		o, err := seedOrg(ctx, a.App)
		if err != nil {
			t.Fatal(err)
		}
		c, err := seedCampaign(ctx, a.App, o)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := seedActivity(ctx, a.App, o, c); err != nil {
			t.Fatal(err)
		}
		t.Logf("seeded in %v", time.Since(start))
		first := countActivity(t, a, c.ID)
		if first.Conversions < activityCustomers || first.Reversals == 0 || first.Touches == 0 || first.Links == 0 ||
			first.Clicks == 0 || first.Bots == 0 || first.Shares == 0 || first.Credits == 0 || first.TokenOrCode == 0 {
			t.Fatalf("seeded %+v: want every kind of activity", first)
		}
		if err := seedActivity(ctx, a.App, o, c); err != nil {
			t.Fatal(err)
		}
		if again := countActivity(t, a, c.ID); again != first {
			t.Fatalf("second seed: %+v, want %+v", again, first)
		}
		var late int
		if err := a.DB.GetContext(ctx, &late, `SELECT COUNT(*) FROM conversions WHERE source = ? AND (occurred_at > ? OR occurred_at < ?)`,
			activitySource, now.UnixMicro(), c.StartAt.UnixMicro()); err != nil || late != 0 {
			t.Fatalf("%d conversions outside [campaign start, now] (%v)", late, err)
		}
		t.Logf("seeded %+v", first)
		assertActivityReports(t, a, o, c)
	})
}

func assertActivityReports(t *testing.T, a *testapp.App, o demoOrg, c demoCampaign) {
	t.Helper()
	ctx := context.Background()
	p, err := demoPrincipal(ctx, a.App, o.HQAdmin)
	if err != nil {
		t.Fatal(err)
	}
	b := attribution.NewBoards(a.DB, a.Clock)
	if err := b.Warm(ctx); err != nil || !b.Mirrored(c.ID) {
		t.Fatalf("warm: %v; demo campaign mirrored: %v", err, b.Mirrored(c.ID))
	}
	board, err := b.Board(ctx, p, c.ID, attribution.BoardQuery{Level: "staff"})
	if err != nil {
		t.Fatal(err)
	}
	// The preloaded (in-memory) board is the SQL board.
	sql := &attribution.Boards{DB: a.DB, Clock: a.Clock, Campaigns: b.Campaigns, Org: b.Org, Store: b.Store}
	if want, err := sql.Board(ctx, p, c.ID, attribution.BoardQuery{Level: "staff"}); err != nil {
		t.Fatal(err)
	} else if diff := cmp.Diff(want, board, cmpopts.IgnoreUnexported(attribution.BoardEntry{}, attribution.Board{}), cmpopts.EquateEmpty()); diff != "" {
		t.Fatalf("demo staff board, SQL (-) vs in memory (+):\n%s", diff)
	}
	ranked := 0
	for _, e := range board.Entries {
		if e.Rank > 0 && e.Value != nil && *e.Value > 0 {
			ranked++
		}
	}
	if ranked < 5 {
		t.Fatalf("staff board: %d staff with conversions, want at least 5", ranked)
	}
	f, err := b.Funnel(ctx, p, c.ID, attribution.FunnelQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Periods) < 7 || f.AmountFen <= 0 {
		t.Fatalf("funnel: %d periods, %d fen", len(f.Periods), f.AmountFen)
	}
	for _, step := range f.Steps {
		if f.Total.Counts[step] <= 0 {
			t.Fatalf("funnel step %s: %v", step, f.Total.Counts[step])
		}
	}
	ch, err := b.Channels(ctx, c.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if ch.Conversions == 0 || ch.Paths == 0 || len(ch.Models) == 0 || ch.Markov == nil {
		t.Fatalf("channels: %+v", ch)
	}
	seen := map[string]bool{}
	for _, fig := range ch.Models[0].Channels {
		if fig.Conversions > 0 {
			seen[fig.Channel] = true
		}
	}
	if len(seen) < 3 {
		t.Fatalf("channels credited under %s: %v, want several", ch.Models[0].Model, seen)
	}
}
