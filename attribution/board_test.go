package attribution_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"rmref/attribution"
	"rmref/customer"
	"rmref/internal/apperr"
	"rmref/internal/auth"
	"rmref/internal/db"
	"rmref/internal/dbtest"
	"rmref/internal/testapp"
	"rmref/org"
)

// boards returns the board service over the world's campaign.
func (w *world) boards() *attribution.Boards {
	o := org.NewStore(w.d.Dialect)
	return &attribution.Boards{DB: w.d, Clock: w.clk, Campaigns: fakeCampaigns{w.camp}, Org: o, Store: attribution.BoardStore{Dialect: w.d.Dialect}}
}

// hqAdmin reads every board.
var hqAdmin = auth.Principal{StaffID: 999, Roles: []auth.Role{auth.RoleHQAdmin}}

// row is what the tests compare of an entry.
type boardRow struct {
	Rank  int
	ID    int64
	Value *float64
}

func boardRows(b attribution.Board) []boardRow {
	out := make([]boardRow, len(b.Entries))
	for i, e := range b.Entries {
		out[i] = boardRow{e.Rank, e.ID, e.Value}
	}
	return out
}

func val(v float64) *float64 { return &v }

func mustBoard(t *testing.T, w *world, p auth.Principal, q attribution.BoardQuery) attribution.Board {
	t.Helper()
	b, err := w.boards().Board(context.Background(), p, w.camp.ID, q)
	if err != nil {
		t.Fatalf("board %+v: %v", q, err)
	}
	return b
}

// seedBoard gives (linear model): x1 1000 fen at t0 over touches A, B, A
// → A 2/3 (667 fen), B 1/3 (333 fen); x2 500 fen at t0+1h → C; x3 167 fen
// at t0+2h → B; x4 100 fen at t0+4h → M (placed directly under the branch).
func seedBoard(t *testing.T, w *world) map[string]attribution.ConversionView {
	c1, c2, c3, c4 := customer.Identifiers{CustomerID: "C1"}, customer.Identifiers{CustomerID: "C2"}, customer.Identifiers{CustomerID: "C3"}, customer.Identifiers{CustomerID: "C4"}
	w.touch(t, "t1", "A", t0.Add(-3*day), c1)
	w.touch(t, "t2", "B", t0.Add(-day), c1)
	w.touch(t, "t3", "A", t0.Add(-2*day), c1)
	w.touch(t, "t4", "C", t0.Add(-day), c2)
	w.touch(t, "t5", "B", t0.Add(-day), c3)
	w.touch(t, "t6", "M", t0.Add(-day), c4)
	w.clk.Set(t0.Add(5 * time.Hour))
	return map[string]attribution.ConversionView{
		"x1": w.convert(t, "x1", 1000, t0, c1),
		"x2": w.convert(t, "x2", 500, t0.Add(time.Hour), c2),
		"x3": w.convert(t, "x3", 167, t0.Add(2*time.Hour), c3),
		"x4": w.convert(t, "x4", 100, t0.Add(4*time.Hour), c4),
	}
}

func TestBoardRanksTiesAndFractionalWeights(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d, attribution.Settings{Model: attribution.Linear})
		seedBoard(t, w)
		// B 1/3 + 1 = 1.333333; C and M 1 each (C reached it first); A 2/3.
		got := boardRows(mustBoard(t, w, hqAdmin, attribution.BoardQuery{}))
		want := []boardRow{{1, w.b, val(1.333333)}, {2, w.c, val(1)}, {2, w.m, val(1)}, {4, w.a, val(0.666667)}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("conversions (-want +got):\n%s", diff)
		}
		// A 667; C 500 at t0+1h ties B 333+167 = 500 at t0+2h; M 100.
		got = boardRows(mustBoard(t, w, hqAdmin, attribution.BoardQuery{Metric: attribution.MetricAmount}))
		want = []boardRow{{1, w.a, val(667)}, {2, w.c, val(500)}, {2, w.b, val(500)}, {4, w.m, val(100)}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("amount (-want +got):\n%s", diff)
		}
	})
}

func TestBoardUnitLevelsAndPerHead(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d, attribution.Settings{Model: attribution.Linear})
		seedBoard(t, w)
		// M sits directly under the branch: his credit counts for no team.
		got := boardRows(mustBoard(t, w, hqAdmin, attribution.BoardQuery{Level: attribution.LevelTeam}))
		if diff := cmp.Diff([]boardRow{{1, w.tm1, val(2)}, {2, w.tm2, val(1)}}, got); diff != "" {
			t.Errorf("teams (-want +got):\n%s", diff)
		}
		// Per head: team 1 2/2 = 1 ties team 2 1/1 = 1, which got there first (t0+1h).
		got = boardRows(mustBoard(t, w, hqAdmin, attribution.BoardQuery{Level: attribution.LevelTeam, PerHead: true}))
		if diff := cmp.Diff([]boardRow{{1, w.tm2, val(1)}, {1, w.tm1, val(1)}}, got); diff != "" {
			t.Errorf("teams per head (-want +got):\n%s", diff)
		}
		// Amount per head: team 1 (667+333+167)/2 = 583.5 → 584 (half-up); team 2 500.
		got = boardRows(mustBoard(t, w, hqAdmin, attribution.BoardQuery{Level: attribution.LevelTeam, Metric: attribution.MetricAmount, PerHead: true}))
		if diff := cmp.Diff([]boardRow{{1, w.tm1, val(584)}, {2, w.tm2, val(500)}}, got); diff != "" {
			t.Errorf("team amount per head (-want +got):\n%s", diff)
		}
		// Branch: 4 conversions over A, B, C and M = 1 per head; 1767 fen / 4 = 441.75 → 442.
		b := mustBoard(t, w, hqAdmin, attribution.BoardQuery{Level: attribution.LevelBranch, Metric: attribution.MetricAmount, PerHead: true})
		if diff := cmp.Diff([]boardRow{{1, w.branch, val(442)}}, boardRows(b)); diff != "" || b.Entries[0].Heads != 4 || b.Entries[0].Name != "北京分行" {
			t.Errorf("branch per head (-want +got):\n%s %+v", diff, b.Entries)
		}
		_, err := w.boards().Board(context.Background(), hqAdmin, w.camp.ID, attribution.BoardQuery{PerHead: true})
		if apperr.KindOf(err) != apperr.Invalid {
			t.Errorf("per head at staff level: %v", err)
		}
	})
}

func TestBoardScopeAndVisibility(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d, attribution.Settings{Model: attribution.Linear})
		seedBoard(t, w)
		got := boardRows(mustBoard(t, w, hqAdmin, attribution.BoardQuery{ScopeUnitID: w.tm2}))
		if diff := cmp.Diff([]boardRow{{1, w.c, val(1)}}, got); diff != "" {
			t.Errorf("scope team 2 (-want +got):\n%s", diff)
		}
		// A plain staff member taking part sees the whole board.
		var path string
		if err := d.GetContext(context.Background(), &path, `SELECT path FROM org_units WHERE id = ?`, w.tm1); err != nil {
			t.Fatal(err)
		}
		a := auth.Principal{StaffID: w.a, UnitID: w.tm1, UnitPath: path, Roles: []auth.Role{auth.RoleStaff}}
		if n := len(mustBoard(t, w, a, attribution.BoardQuery{}).Entries); n != 4 {
			t.Errorf("staff A sees %d entries, want 4", n)
		}
		var hqID int64
		if err := d.GetContext(context.Background(), &hqID, `SELECT id FROM org_units WHERE code = 'HQ'`); err != nil {
			t.Fatal(err)
		}
		s := testapp.NewSeeder(t, d)
		r2 := s.Unit("region", "R2", "华南", hqID)
		x := s.Staff("X", "外人", r2)
		var xPath string
		if err := d.GetContext(context.Background(), &xPath, `SELECT path FROM org_units WHERE id = ?`, r2); err != nil {
			t.Fatal(err)
		}
		outsider := auth.Principal{StaffID: x, UnitID: r2, UnitPath: xPath, Roles: []auth.Role{auth.RoleStaff}}
		_, err := w.boards().Board(context.Background(), outsider, w.camp.ID, attribution.BoardQuery{})
		if apperr.KindOf(err) != apperr.NotFound {
			t.Errorf("outsider: %v, want not found", err)
		}
	})
}

func TestBoardReversalLowersAtOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d, attribution.Settings{Model: attribution.Linear})
		convs := seedBoard(t, w)
		if _, err := w.svc.Reverse(context.Background(), convs["x2"].ID, attribution.ReversalInput{ExternalID: "r1", Reason: "cancelled"}, "test"); err != nil {
			t.Fatal(err)
		}
		got := boardRows(mustBoard(t, w, hqAdmin, attribution.BoardQuery{Metric: attribution.MetricAmount}))
		want := []boardRow{{1, w.a, val(667)}, {2, w.b, val(500)}, {3, w.m, val(100)}, {4, w.c, val(0)}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("after reversal (-want +got):\n%s", diff)
		}
	})
}

func TestBoardFrozenSnapshotShowsLateCorrectionsAsAdjustments(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d, attribution.Settings{Model: attribution.Linear})
		convs := seedBoard(t, w)
		w.camp.FreezeAt = t0.Add(6 * time.Hour)
		w.clk.Set(t0.Add(7 * time.Hour))
		if _, err := w.svc.Reverse(context.Background(), convs["x1"].ID, attribution.ReversalInput{ExternalID: "r1", Reason: "late"}, "test"); err != nil {
			t.Fatal(err)
		}
		b := mustBoard(t, w, hqAdmin, attribution.BoardQuery{Metric: attribution.MetricAmount})
		want := []boardRow{{1, w.a, val(667)}, {2, w.c, val(500)}, {2, w.b, val(500)}, {4, w.m, val(100)}}
		if diff := cmp.Diff(want, boardRows(b)); diff != "" || !b.Frozen {
			t.Errorf("frozen board changed (-want +got):\n%s frozen=%v", diff, b.Frozen)
		}
		adj := map[int64]int64{}
		for _, e := range b.Entries {
			adj[e.ID] = e.AdjustFen
		}
		if diff := cmp.Diff(map[int64]int64{w.a: -667, w.b: -333, w.c: 0, w.m: 0}, adj); diff != "" {
			t.Errorf("adjustments (-want +got):\n%s", diff)
		}
	})
}

func TestBoardWeekBoundaryInShanghai(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d, attribution.Settings{Model: attribution.LastTouch})
		sh, err := time.LoadLocation("Asia/Shanghai")
		if err != nil {
			t.Fatal(err)
		}
		w.camp.Location = sh
		sunday := time.Date(2026, 11, 15, 23, 59, 0, 0, sh)
		monday := time.Date(2026, 11, 16, 0, 0, 0, 0, sh)
		w.clk.Set(monday.Add(time.Hour))
		c1, c2 := customer.Identifiers{CustomerID: "S1"}, customer.Identifiers{CustomerID: "S2"}
		w.touch(t, "t1", "A", sunday.Add(-time.Hour), c1)
		w.touch(t, "t2", "C", sunday.Add(-time.Hour), c2)
		w.convert(t, "sun", 100, sunday, c1)
		w.convert(t, "mon", 100, monday, c2)
		for _, tc := range []struct {
			name string
			q    attribution.BoardQuery
			want []boardRow
		}{
			{"week of Sunday", attribution.BoardQuery{Period: "week", Date: "2026-11-15"}, []boardRow{{1, w.a, val(1)}, {2, w.b, val(0)}, {2, w.c, val(0)}, {2, w.m, val(0)}}},
			{"week of Monday", attribution.BoardQuery{Period: "week", Date: "2026-11-16"}, []boardRow{{1, w.c, val(1)}, {2, w.a, val(0)}, {2, w.b, val(0)}, {2, w.m, val(0)}}},
			{"Sunday alone", attribution.BoardQuery{Period: "day", Date: "2026-11-15"}, []boardRow{{1, w.a, val(1)}, {2, w.b, val(0)}, {2, w.c, val(0)}, {2, w.m, val(0)}}},
			{"range", attribution.BoardQuery{Period: "range", From: "2026-11-09", To: "2026-11-16"}, []boardRow{{1, w.a, val(1)}, {1, w.c, val(1)}, {3, w.b, val(0)}, {3, w.m, val(0)}}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if diff := cmp.Diff(tc.want, boardRows(mustBoard(t, w, hqAdmin, tc.q))); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			})
		}
	})
}

func TestBoardMe(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d, attribution.Settings{Model: attribution.Linear})
		seedBoard(t, w)
		b := mustBoard(t, w, hqAdmin, attribution.BoardQuery{Metric: attribution.MetricAmount})
		e, err := b.Me(auth.Principal{StaffID: w.m}, org.Chain{})
		if err != nil || e.Rank != 4 || e.AmountFen != 100 {
			t.Errorf("me = %+v, %v", e, err)
		}
		_, err = b.Me(auth.Principal{StaffID: w.h1}, org.Chain{})
		if !errors.Is(err, apperr.NotFoundf("")) && apperr.KindOf(err) != apperr.NotFound {
			t.Errorf("hqAdmin admin off the board: %v", err)
		}
	})
}

func TestCachedBoardSeesNewConversionsAndReversalsAtOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		w := newWorld(t, d, attribution.Settings{Model: attribution.Linear})
		convs := seedBoard(t, w)
		bs := w.boards().WithCache()
		q := attribution.BoardQuery{Metric: attribution.MetricAmount}
		board := func() []boardRow {
			b, err := bs.Board(context.Background(), hqAdmin, w.camp.ID, q)
			if err != nil {
				t.Fatal(err)
			}
			return boardRows(b)
		}
		want := []boardRow{{1, w.a, val(667)}, {2, w.c, val(500)}, {2, w.b, val(500)}, {4, w.m, val(100)}}
		for range 2 {
			if diff := cmp.Diff(want, board()); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		}
		if _, err := w.svc.Reverse(context.Background(), convs["x2"].ID, attribution.ReversalInput{ExternalID: "r1", Reason: "x"}, "test"); err != nil {
			t.Fatal(err)
		}
		want = []boardRow{{1, w.a, val(667)}, {2, w.b, val(500)}, {3, w.m, val(100)}, {4, w.c, val(0)}}
		if diff := cmp.Diff(want, board()); diff != "" {
			t.Errorf("after reversal, cached (-want +got):\n%s", diff)
		}
		w.touch(t, "t9", "M", t0.Add(time.Hour), customer.Identifiers{CustomerID: "C9"})
		w.convert(t, "x9", 600, t0.Add(4*time.Hour+30*time.Minute), customer.Identifiers{CustomerID: "C9"})
		want = []boardRow{{1, w.m, val(700)}, {2, w.a, val(667)}, {3, w.b, val(500)}, {4, w.c, val(0)}}
		if diff := cmp.Diff(want, board()); diff != "" {
			t.Errorf("after a new conversion, cached (-want +got):\n%s", diff)
		}
	})
}
