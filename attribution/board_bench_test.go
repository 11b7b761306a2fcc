package attribution_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"rmref/attribution"
	"rmref/internal/auth"
	"rmref/internal/db"
	"rmref/internal/dbtest"
	"rmref/internal/testapp"
	"rmref/org"

	"github.com/jmoiron/sqlx"
)

// boardBenchWorld adds teams × perTeam staff under the world's subbranch
// and bulk-loads credits (conversions per staff member, linear weights of
// 1/2) straight into the credits table, as the attribution generator
// does for large loads.
func boardBenchWorld(b *testing.B, kind string, teams, perTeam, credits int) *world {
	b.Helper()
	d := dbtest.Open(b, kind)
	w := newWorldTB(b, d, attribution.Settings{Model: attribution.Linear})
	s := testapp.NewSeeder(b, d)
	var staff []int64
	chains := map[int64]int64{}
	for t := range teams {
		tm := s.Unit("team", fmt.Sprintf("BT%d", t), fmt.Sprintf("组%d", t), w.sub)
		for k := range perTeam {
			id := s.Staff(fmt.Sprintf("BS%d-%d", t, k), fmt.Sprintf("员工%d", k), tm)
			staff = append(staff, id)
			chains[id] = tm
		}
	}
	var path string
	if err := d.GetContext(context.Background(), &path, `SELECT path FROM org_units WHERE id = ?`, w.sub); err != nil {
		b.Fatal(err)
	}
	bulkCredits(b, d, w, staff, chains, path, credits)
	return w
}

func bulkCredits(b *testing.B, d *db.DB, w *world, staff []int64, team map[int64]int64, path string, n int) {
	b.Helper()
	ctx := context.Background()
	for start := 0; start < n; start += 500 {
		var vals []string
		var args []any
		for i := start; i < min(start+500, n); i++ {
			st := staff[(i*7919)%len(staff)]
			day := t0.AddDate(0, 0, -(i % 28)).Format("2006-01-02")
			vals = append(vals, "(?, 1, ?, 'attribution', 0, 500000, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
			args = append(args, i+1, st, 100+i%900, team[st], path, team[st], w.sub, w.branch, w.region, day, db.Micros(t0)-int64(i), db.Micros(t0))
		}
		_, err := d.ExecContext(ctx, `INSERT INTO credits (conversion_id, campaign_id, staff_id, kind, reversal_id, weight_micro, credited_fen,
			unit_id, unit_path, team_id, subbranch_id, branch_id, region_id, day, occurred_at, created_at) VALUES `+strings.Join(vals, ", "), args...)
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBoard: 2,000 staff in 40 teams, 50,000 credits: the full staff
// board (every entry computed and ranked; a page and /me are cuts of it)
// and the team board.
func BenchmarkBoard(b *testing.B) {
	for _, kind := range dbtest.Kinds() {
		b.Run(kind, func(b *testing.B) {
			w := boardBenchWorld(b, kind, 40, 50, 50000)
			hqAdmin := auth.Principal{StaffID: w.h1, Roles: []auth.Role{auth.RoleHQAdmin}}
			cached := w.boards().WithCache()
			b.Run("staff-cached", func(b *testing.B) {
				for b.Loop() {
					if _, err := cached.Board(context.Background(), hqAdmin, w.camp.ID, attribution.BoardQuery{}); err != nil {
						b.Fatal(err)
					}
				}
			})
			for _, lvl := range []string{attribution.LevelStaff, attribution.LevelTeam, attribution.LevelRegion} {
				b.Run(lvl, func(b *testing.B) {
					for b.Loop() {
						bd, err := w.boards().Board(context.Background(), hqAdmin, w.camp.ID, attribution.BoardQuery{Level: lvl})
						if err != nil || len(bd.Entries) == 0 {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}

// EnvBenchScale set to "full" runs BenchmarkBoardScale (200k staff, 1M
// credits); `go test ./...` never does.
const EnvBenchScale = "RMREF_BENCH_SCALE"

// Scale of the full board benchmark: 8 regions × 5 branches × 10
// subbranches × 10 teams × 50 staff = 200,000 staff; 1,000,000 credits.
const (
	scaleRegions, scaleBranches, scaleSubs, scaleTeams, scalePerTeam = 8, 5, 10, 10, 50
	scaleCredits                                                     = 1_000_000
)

// bulkInsert writes rows (each len(cols) values) into table with
// multi-row INSERTs of 500 rows, 50,000 rows per transaction.
func bulkInsert(b *testing.B, d *db.DB, table string, cols []string, rows [][]any) {
	b.Helper()
	ctx := context.Background()
	one := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
	head := `INSERT INTO ` + table + ` (` + strings.Join(cols, ", ") + `) VALUES `
	for tstart := 0; tstart < len(rows); tstart += 50000 {
		tx, err := d.BeginTxx(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		for start := tstart; start < min(tstart+50000, len(rows)); start += 500 {
			part := rows[start:min(start+500, tstart+50000, len(rows))]
			vals := make([]string, len(part))
			var args []any
			for i, r := range part {
				vals[i] = one
				args = append(args, r...)
			}
			if _, err := tx.ExecContext(ctx, head+strings.Join(vals, ", "), args...); err != nil {
				tx.Rollback()
				b.Fatalf("bulk %s: %v", table, err)
			}
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
}

// scaleChain is a bulk-loaded staff member's stamped chain.
type scaleChain struct{ team, sub, branch, region int64 }

// scaleOrg bulk-loads the full tree under the world's head office and
// returns the staff ids and their chains.
func scaleOrg(b *testing.B, d *db.DB, w *world) ([]int64, map[int64]scaleChain, map[int64]string) {
	b.Helper()
	var hq int64
	var hqPath string
	if err := d.GetContext(context.Background(), &hq, `SELECT parent_id FROM org_units WHERE id = ?`, w.region); err != nil {
		b.Fatal(err)
	}
	if err := d.GetContext(context.Background(), &hqPath, `SELECT path FROM org_units WHERE id = ?`, hq); err != nil {
		b.Fatal(err)
	}
	w.camp.UnitPaths = []string{hqPath}
	var units, history, staffRows, assigns [][]any
	paths := map[int64]string{}
	next := int64(1000)
	add := func(kind string, parent int64, parentPath string, depth int) (int64, string) {
		id := next
		next++
		p := parentPath + fmt.Sprint(id) + "/"
		units = append(units, []any{id, kind, fmt.Sprintf("ZU%d", id), fmt.Sprintf("%s%d", kind, id), parent, p, depth, 0, 0})
		history = append(history, []any{id, parent, p, 0, int64(math.MaxInt64), 0})
		return id, p
	}
	var staff []int64
	chains := map[int64]scaleChain{}
	sid := int64(1000)
	for range scaleRegions {
		r, rp := add("region", hq, hqPath, 1)
		for range scaleBranches {
			br, bp := add("branch", r, rp, 2)
			for range scaleSubs {
				sb, sp := add("subbranch", br, bp, 3)
				for range scaleTeams {
					tm, tp := add("team", sb, sp, 4)
					paths[tm] = tp
					for range scalePerTeam {
						staffRows = append(staffRows, []any{sid, fmt.Sprintf("Z%d", sid), fmt.Sprintf("员工%d", sid), tm, "staff", "active", 0, 0})
						assigns = append(assigns, []any{sid, tm, 0, int64(math.MaxInt64), 0})
						staff = append(staff, sid)
						chains[sid] = scaleChain{tm, sb, br, r}
						sid++
					}
				}
			}
		}
	}
	bulkInsert(b, d, "org_units", []string{"id", "kind", "code", "name", "parent_id", "path", "depth", "created_at", "updated_at"}, units)
	bulkInsert(b, d, "unit_paths", []string{"unit_id", "parent_id", "path", "valid_from", "valid_to", "created_at"}, history)
	bulkInsert(b, d, "staff", []string{"id", "employee_no", "name", "unit_id", "roles", "status", "created_at", "updated_at"}, staffRows)
	bulkInsert(b, d, "staff_assignments", []string{"staff_id", "unit_id", "valid_from", "valid_to", "created_at"}, assigns)
	return staff, chains, paths
}

// scaleCreditRows is one credit per conversion, staff drawn with a skew
// (a quarter of the staff earn half the credits), over the last 28 days.
func scaleCreditRows(w *world, staff []int64, chains map[int64]scaleChain, paths map[int64]string) [][]any {
	rows := make([][]any, scaleCredits)
	n := len(staff)
	for i := range scaleCredits {
		k := (i * 7919) % n
		if i%2 == 0 {
			k %= n / 4
		}
		st := staff[k]
		ch := chains[st]
		day := t0.AddDate(0, 0, -(i % 28)).Format("2006-01-02")
		rows[i] = []any{i + 1, w.camp.ID, st, "attribution", 0, 1_000_000, 100 + i%900000,
			ch.team, paths[ch.team], ch.team, ch.sub, ch.branch, ch.region, day, db.Micros(t0) - int64(i), db.Micros(t0)}
	}
	return rows
}

// latencies are query durations, sorted by pct.
type latencies []time.Duration

func (l latencies) pct(p float64) time.Duration {
	s := slices.Clone(l)
	slices.Sort(s)
	return s[min(len(s)-1, int(math.Ceil(p*float64(len(s))))-1)]
}

// scaleQuery is one measured board read.
type scaleQuery struct {
	name string
	run  func(ctx context.Context, bs *attribution.Boards) error
}

func scaleQueries(w *world, me int64, mePath string) []scaleQuery {
	board := func(q attribution.BoardQuery, top int) func(context.Context, *attribution.Boards) error {
		return func(ctx context.Context, bs *attribution.Boards) error {
			bd, err := bs.Board(ctx, hqAdmin, w.camp.ID, q)
			if err == nil && len(bd.Entries[:min(top, len(bd.Entries))]) == 0 {
				err = fmt.Errorf("empty board")
			}
			return err
		}
	}
	staff := auth.Principal{StaffID: me, UnitPath: mePath, Roles: []auth.Role{auth.RoleStaff}}
	return []scaleQuery{
		{"staff-top50", board(attribution.BoardQuery{}, 50)},
		{"branch", board(attribution.BoardQuery{Level: attribution.LevelBranch}, 50)},
		{"region", board(attribution.BoardQuery{Level: attribution.LevelRegion}, 50)},
		{"me", func(ctx context.Context, bs *attribution.Boards) error {
			ch, err := bs.CallerChain(ctx, staff)
			if err != nil {
				return err
			}
			bd, err := bs.Board(ctx, staff, w.camp.ID, attribution.BoardQuery{})
			if err != nil {
				return err
			}
			_, err = bd.Me(staff, ch)
			return err
		}},
	}
}

// BenchmarkBoardScale (RMREF_BENCH_SCALE=full, run with -benchtime=1x):
// bulk-loads 200,000 staff and 1,000,000 credits, then logs per query
// cold (fresh Boards, empty caches; SQLite also a freshly opened file),
// warm (cached, 50 queries p50/p99), after a new conversion (20 times: one
// conversion's credit and deltas committed, then the query) and, as the
// baseline, the SQL recompute without caches (3 queries).
func BenchmarkBoardScale(b *testing.B) {
	if os.Getenv(EnvBenchScale) != "full" {
		b.Skip(EnvBenchScale + "=full not set")
	}
	for _, kind := range dbtest.Kinds() {
		b.Run(kind, func(b *testing.B) { benchScale(b, kind) })
	}
}

func benchScale(b *testing.B, kind string) {
	ctx := context.Background()
	var d *db.DB
	var path string
	if kind == "sqlite" {
		path = filepath.Join(b.TempDir(), "scale.db")
		d = openScaleSQLite(b, path, true)
	} else {
		d = dbtest.Open(b, kind)
	}
	w := newWorldTB(b, d, attribution.Settings{Model: attribution.Linear})
	start := time.Now()
	staff, chains, paths := scaleOrg(b, d, w)
	orgLoad := time.Since(start)
	start = time.Now()
	bulkInsert(b, d, "credits", []string{"conversion_id", "campaign_id", "staff_id", "kind", "reversal_id", "weight_micro", "credited_fen",
		"unit_id", "unit_path", "team_id", "subbranch_id", "branch_id", "region_id", "day", "occurred_at", "created_at"},
		scaleCreditRows(w, staff, chains, paths))
	creditLoad := time.Since(start)
	if kind != "sqlite" {
		if _, err := d.ExecContext(ctx, `ANALYZE TABLE credits, staff, staff_assignments, org_units, unit_paths`); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("%s: loaded %d staff in %v, %d credits in %v", kind, len(staff), orgLoad.Round(time.Millisecond), scaleCredits, creditLoad.Round(time.Millisecond))
	newBoards := func() *attribution.Boards {
		if kind == "sqlite" {
			d.Close()
			d = openScaleSQLite(b, path, false)
		}
		bs := attribution.NewBoards(d, w.clk)
		bs.Campaigns = fakeCampaigns{w.camp}
		return bs
	}
	me := staff[len(staff)/3]
	convID := int64(scaleCredits)
	// newConversion writes what recording a conversion writes for the
	// boards: one credit and its rollup deltas, in one transaction.
	newConversion := func() {
		convID++
		st := staff[int(convID*7919)%len(staff)]
		ch := chains[st]
		now := db.Micros(w.clk.Now())
		err := d.WithTx(ctx, func(tx *sqlx.Tx) error {
			if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO credits (conversion_id, campaign_id, staff_id, kind, reversal_id, weight_micro, credited_fen,
				unit_id, unit_path, team_id, subbranch_id, branch_id, region_id, day, occurred_at, created_at) VALUES (?, ?, ?, 'attribution', 0, 1000000, 5000, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
				convID, w.camp.ID, st, ch.team, paths[ch.team], ch.team, ch.sub, ch.branch, ch.region, t0.Format(time.DateOnly), now, now); err != nil {
				return err
			}
			for _, lk := range []struct {
				level string
				key   int64
			}{{"staff", st}, {"team", ch.team}, {"subbranch", ch.sub}, {"branch", ch.branch}, {"region", ch.region}} {
				if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO rollup_deltas (campaign_id, level, key_id, day, weight_micro, credited_fen, created_at)
					VALUES (?, ?, ?, ?, 1000000, 5000, ?)`), w.camp.ID, lk.level, lk.key, t0.Format(time.DateOnly), now); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	for _, q := range scaleQueries(w, me, paths[chains[me].team]) {
		// After a restart the server preloads each running campaign by
		// computing its default board (Boards.Warm); the bench world's
		// campaign is not in the campaigns table, so do what Warm does.
		pre := newBoards()
		if _, err := pre.Board(ctx, hqAdmin, w.camp.ID, attribution.BoardQuery{}); err != nil {
			b.Fatal(err)
		}
		preloaded := timeQuery(b, ctx, pre, q)
		bs := newBoards()
		cold := timeQuery(b, ctx, bs, q)
		var warm latencies
		for range 50 {
			warm = append(warm, timeQuery(b, ctx, bs, q))
		}
		var fresh latencies
		for range 20 {
			newConversion()
			fresh = append(fresh, timeQuery(b, ctx, bs, q))
		}
		bare := &attribution.Boards{DB: d, Clock: w.clk, Campaigns: fakeCampaigns{w.camp}, Org: org.NewStore(d.Dialect), Store: attribution.BoardStore{Dialect: d.Dialect}}
		var recompute latencies
		for range 3 {
			recompute = append(recompute, timeQuery(b, ctx, bare, q))
		}
		b.Logf("%s %-11s cold %8v  first after preload %8v  warm p50 %8v p99 %8v  after a new conversion p50 %8v p99 %8v  SQL recompute p50 %8v max %8v", kind, q.name, cold.Round(time.Microsecond), preloaded.Round(time.Microsecond),
			warm.pct(0.5).Round(time.Microsecond), warm.pct(0.99).Round(time.Microsecond),
			fresh.pct(0.5).Round(time.Microsecond), fresh.pct(0.99).Round(time.Microsecond),
			recompute.pct(0.5).Round(time.Microsecond), recompute.pct(1).Round(time.Microsecond))
	}
}

func timeQuery(b *testing.B, ctx context.Context, bs *attribution.Boards, q scaleQuery) time.Duration {
	b.Helper()
	start := time.Now()
	if err := q.run(ctx, bs); err != nil {
		b.Fatalf("%s: %v", q.name, err)
	}
	return time.Since(start)
}

// openScaleSQLite opens (and, when migrate, migrates) the SQLite file.
func openScaleSQLite(b *testing.B, path string, migrate bool) *db.DB {
	b.Helper()
	d, err := db.Open(context.Background(), path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { d.Close() })
	if migrate {
		if _, err := d.Migrate(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	return d
}

// BenchmarkMarkovScale (RMREF_BENCH_SCALE=full): the Markov report of a
// campaign with 1,000,000 conversions, one path per converting customer
// (1–6 touches over six channels) plus 1,000,000 paths that did not convert.
func BenchmarkMarkovScale(b *testing.B) {
	if os.Getenv(EnvBenchScale) != "full" {
		b.Skip(EnvBenchScale + "=full not set")
	}
	channels := []string{"wechat", "sms", "branch", "remote", "app", "email"}
	paths := make([]attribution.MarkovPath, 0, 2_000_000)
	x := uint64(88172645463325252)
	for i := range 2_000_000 {
		var chs []string
		for range 1 + i%6 {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			chs = append(chs, channels[x%uint64(len(channels))])
		}
		p := attribution.MarkovPath{Channels: chs}
		if i%2 == 0 {
			p.Conversions, p.ValueFen = 1, int64(100+i%90000)
		} else {
			p.Nulls = 1
		}
		paths = append(paths, p)
	}
	for b.Loop() {
		rep, err := attribution.Markov(paths)
		if err != nil || rep.TotalConversions != 1_000_000 {
			b.Fatal(rep.TotalConversions, err)
		}
	}
}
