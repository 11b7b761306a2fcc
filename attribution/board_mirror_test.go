package attribution_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"rmref/attribution"
	"rmref/customer"
	"rmref/internal/auth"
	"rmref/internal/db"
	"rmref/internal/dbtest"
	"rmref/org"
)

// boardQueries is every level and metric over several periods and scopes.
func boardQueries(w *world) []attribution.BoardQuery {
	var qs []attribution.BoardQuery
	levels := []string{attribution.LevelStaff, attribution.LevelTeam, attribution.LevelSubbranch, attribution.LevelBranch, attribution.LevelRegion}
	metrics := []string{attribution.MetricConversions, attribution.MetricAmount, attribution.MetricRate,
		attribution.MetricShares, attribution.MetricClicks, attribution.MetricVisitors}
	periods := []attribution.BoardQuery{{}, {Period: "day", Date: t0.Format(time.DateOnly)}, {Period: "week", Date: t0.Format(time.DateOnly)},
		{Period: "range", From: t0.AddDate(0, 0, -1).Format(time.DateOnly), To: t0.AddDate(0, 0, 1).Format(time.DateOnly)}}
	for _, l := range levels {
		for _, m := range metrics {
			for _, p := range periods {
				for _, scope := range []int64{0, w.tm1, w.branch} {
					q := p
					q.Level, q.Metric, q.ScopeUnitID, q.MinVisitors = l, m, scope, 3
					qs = append(qs, q)
					if l != attribution.LevelStaff && m != attribution.MetricRate {
						q.PerHead = true
						qs = append(qs, q)
					}
				}
			}
		}
	}
	return qs
}

// TestCachedBoardsEqualSQLBoards checks the in-memory path (credit mirror,
// cached placements and names) against the SQL path on every kind of
// board, after new conversions, reversals, a re-attribution by a late
// touch and, past the freeze, late corrections.
func TestCachedBoardsEqualSQLBoards(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d, attribution.Settings{Model: attribution.Linear})
		seedBoard(t, w)
		cached := w.boards().WithCache()
		ctx := context.Background()
		incrementals := attribution.Incrementals()
		defer func() {
			if !t.Failed() && attribution.Incrementals() == incrementals {
				t.Error("no staff board was updated in place: the incremental path went untested")
			}
		}()
		stages := 0
		// compare checks every staff board and a sixth of the other queries
		// at each stage, a different sixth each time.
		compare := func(stage string) {
			t.Helper()
			stages++
			for i, q := range boardQueries(w) {
				// Staff boards every time (they are updated in place from
				// one stage to the next), a sixth of the others.
				if q.Level != attribution.LevelStaff && i%6 != stages%6 {
					continue
				}
				want, err := w.boards().Board(ctx, hqAdmin, w.camp.ID, q)
				if err != nil {
					t.Fatalf("%s: SQL board %+v: %v", stage, q, err)
				}
				got, err := cached.Board(ctx, hqAdmin, w.camp.ID, q)
				if err != nil {
					t.Fatalf("%s: cached board %+v: %v", stage, q, err)
				}
				if diff := cmp.Diff(want, got, cmpopts.IgnoreUnexported(attribution.BoardEntry{}, attribution.Board{}), cmpopts.EquateEmpty()); diff != "" {
					t.Fatalf("%s: board %+v, SQL (-) vs cached (+):\n%s", stage, q, diff)
				}
			}
		}
		compare("seeded")
		r := rand.New(rand.NewPCG(7, 11))
		nClick := 0
		// referral adds counted and uncounted clicks from a few visitors and
		// shares, spread over days around t0, for every staff member.
		referral := func(n int) {
			t.Helper()
			for range n {
				nClick++
				staff := []int64{w.a, w.b, w.c, w.m}[r.IntN(4)]
				at := w.clk.Now().Add(-time.Duration(r.IntN(72*60)) * time.Minute)
				day := at.UTC().Format(time.DateOnly)
				if _, err := d.ExecContext(ctx, d.Rebind(`INSERT INTO referral_clicks (click_id, at, day, code_id, code, staff_id, campaign_id, channel, visitor_id, ip_hash, counted)
					VALUES (?, ?, ?, 1, 'X', ?, ?, 'wechat_moments', ?, 'h', ?)`), fmt.Sprintf("k%d", nClick), db.Micros(at), day, staff, w.camp.ID,
					fmt.Sprintf("v%d", r.IntN(9)), r.IntN(4) != 0); err != nil {
					t.Fatal(err)
				}
				if r.IntN(3) == 0 {
					if _, err := d.ExecContext(ctx, d.Rebind(`INSERT INTO referral_shares (staff_id, campaign_id, channel, at, day) VALUES (?, ?, 'wechat_moments', ?, ?)`),
						staff, w.camp.ID, db.Micros(at), day); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
		referral(60)
		compare("with clicks and shares")
		emps := []string{"A", "B", "C", "M"}
		var views []attribution.ConversionView
		for i := range 12 {
			who := customer.Identifiers{CustomerID: fmt.Sprintf("R%d", i%7)}
			at := t0.Add(-time.Duration(r.IntN(48)) * time.Hour)
			w.touch(t, fmt.Sprintf("rt%d", i), emps[r.IntN(len(emps))], at.Add(-time.Duration(r.IntN(72)+1)*time.Hour), who)
			views = append(views, w.convert(t, fmt.Sprintf("rx%d", i), int64(r.IntN(5000)+1), at, who))
		}
		compare("after new conversions")
		referral(25)
		compare("after more clicks")
		for i := range 4 { // small steps: staff boards are updated in place
			who := customer.Identifiers{CustomerID: fmt.Sprintf("S%d", i)}
			at := t0.Add(-time.Duration(r.IntN(30)) * time.Hour)
			w.touch(t, fmt.Sprintf("st%d", i), emps[r.IntN(len(emps))], at.Add(-time.Hour), who)
			w.convert(t, fmt.Sprintf("sx%d", i), int64(r.IntN(900)+1), at, who)
			referral(2)
			compare(fmt.Sprintf("small step %d", i))
		}
		for _, v := range views[:3] {
			if _, err := w.svc.Reverse(ctx, v.ID, attribution.ReversalInput{ExternalID: "rv" + fmt.Sprint(v.ID), Reason: "x"}, "test"); err != nil {
				t.Fatal(err)
			}
		}
		compare("after reversals")
		// A late touch before an existing conversion re-attributes it.
		w.touch(t, "late1", "C", t0.Add(-2*time.Hour), customer.Identifiers{CustomerID: "R1"})
		compare("after a late touch")
		// Past the campaign's end the board freezes; later data are adjustments.
		w.clk.Set(w.camp.End.Add(time.Hour))
		compare("frozen")
		w.touch(t, "late2", "A", t0.Add(-3*time.Hour), customer.Identifiers{CustomerID: "R2"})
		w.convert(t, "after-freeze", 999, t0.Add(time.Hour), customer.Identifiers{CustomerID: "R3"})
		referral(10)
		compare("frozen, with late corrections and clicks")
	})
}

// TestCachedBoardFollowsTransfersWithinTTL: org moves reach a cached
// board's heads within BoardCacheTTL, without new credits.
func TestCachedBoardFollowsTransfersWithinTTL(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d, attribution.Settings{Model: attribution.Linear})
		seedBoard(t, w)
		cached := w.boards().WithCache()
		ctx := context.Background()
		q := attribution.BoardQuery{Level: attribution.LevelTeam, Metric: attribution.MetricAmount, PerHead: true}
		heads := func() map[int64]int64 {
			b, err := cached.Board(ctx, hqAdmin, w.camp.ID, q)
			if err != nil {
				t.Fatal(err)
			}
			out := map[int64]int64{}
			for _, e := range b.Entries {
				out[e.ID] = e.Heads
			}
			return out
		}
		if got := heads(); got[w.tm1] != 2 || got[w.tm2] != 1 {
			t.Fatalf("heads before: %v", got)
		}
		hq := auth.Principal{StaffID: w.h1, Roles: []auth.Role{auth.RoleHQAdmin}, UnitPath: "/"}
		if _, err := w.orgSvc.TransferStaff(ctx, hq, w.b, org.Transfer{UnitID: w.tm2}); err != nil {
			t.Fatal(err)
		}
		w.clk.Set(w.clk.Now().Add(time.Second))
		if got := heads(); got[w.tm1] != 2 {
			t.Fatalf("heads changed before the TTL: %v", got)
		}
		w.clk.Set(w.clk.Now().Add(attribution.BoardCacheTTL))
		if got := heads(); got[w.tm1] != 1 || got[w.tm2] != 2 {
			t.Fatalf("heads after the TTL: %v, want T1 1, T2 2", got)
		}
	})
}

// TestCachedBoardConcurrentReaders: readers arriving together after a new
// conversion share one computation and all see the new figures.
func TestCachedBoardConcurrentReaders(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d, attribution.Settings{Model: attribution.Linear})
		seedBoard(t, w)
		cached := w.boards().WithCache()
		ctx := context.Background()
		q := attribution.BoardQuery{Metric: attribution.MetricAmount}
		if _, err := cached.Board(ctx, hqAdmin, w.camp.ID, q); err != nil {
			t.Fatal(err)
		}
		w.touch(t, "tc", "C", t0.Add(time.Hour), customer.Identifiers{CustomerID: "CC"})
		w.convert(t, "xc", 4000, t0.Add(4*time.Hour), customer.Identifiers{CustomerID: "CC"})
		want, err := w.boards().Board(ctx, hqAdmin, w.camp.ID, q)
		if err != nil {
			t.Fatal(err)
		}
		errs := make(chan error, 8)
		for range 8 {
			go func() {
				got, err := cached.Board(ctx, hqAdmin, w.camp.ID, q)
				if err == nil {
					if diff := cmp.Diff(want, got, cmpopts.IgnoreUnexported(attribution.BoardEntry{}, attribution.Board{}), cmpopts.EquateEmpty()); diff != "" {
						err = fmt.Errorf("SQL (-) vs cached (+):\n%s", diff)
					}
				}
				errs <- err
			}()
		}
		for range 8 {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
		if want.Entries[0].ID != w.c || *want.Entries[0].Value != 4500 {
			t.Fatalf("top entry %+v, want C with 4500 fen", want.Entries[0])
		}
	})
}
