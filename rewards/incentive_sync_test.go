package rewards_test

import (
	"context"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"rmref/internal/db"
	"rmref/rewards"
)

// TestIncentiveSyncConversion drives the adapter from attribution's
// credits table: first attribution, a repeated sync, a partial reversal
// and a re-attribution that moves the whole credit to another staff member.
func TestIncentiveSyncConversion(t *testing.T) {
	testDBs(t, func(t *testing.T, f *incFix) {
		ctx := context.Background()
		camp := f.campaign("SYNC", 30)
		f.plan(camp, nil, nil,
			rewards.IncentiveRule{ID: "b", Kind: "bounty", Currency: "cash", Amount: 100},
			rewards.IncentiveRule{ID: "p", Kind: "percentage", Currency: "cash", RateBP: 1000})
		at := incSH(11, 3, 10, 0, 0)
		res, err := f.d.ExecContext(ctx, `INSERT INTO conversions (source, external_id, payload_hash, type, identifier_id, amount_fen, channel, occurred_at, created_at)
VALUES ('core', 'x1', 'h', 'wealth_purchase', 1, 1000, 'app', ?, ?)`, db.Micros(at), db.Micros(at))
		if err != nil {
			t.Fatal(err)
		}
		conv, _ := res.LastInsertId()
		s1, s2 := f.staff[0], f.staff[2]
		row := func(staff, weight, fen int64, created time.Time) {
			t.Helper()
			if _, err := f.d.ExecContext(ctx, `INSERT INTO credits (conversion_id, campaign_id, staff_id, kind, weight_micro, credited_fen, unit_id, unit_path, team_id, branch_id, day, occurred_at, created_at)
VALUES (?, ?, ?, 'attribution', ?, ?, ?, '/', ?, ?, '2026-11-03', ?, ?)`, conv, camp, staff, weight, fen, f.teamOf[staff], f.teamOf[staff], f.branch, db.Micros(at), db.Micros(created)); err != nil {
				t.Fatal(err)
			}
		}
		sync := func() {
			t.Helper()
			if err := f.d.WithTx(ctx, func(tx *sqlx.Tx) error { return f.svc.SyncConversion(ctx, tx, conv) }); err != nil {
				t.Fatal(err)
			}
		}
		row(s1, 600000, 600, at)
		row(s2, 400000, 400, at)
		sync()
		sync()
		incWant(t, "s1", f.amounts(camp, s1), []string{"b:60", "p:60"})
		incWant(t, "s2", f.amounts(camp, s2), []string{"b:40", "p:40"})

		rev := incSH(11, 10, 9, 0, 0)
		f.clk.Set(rev)
		row(s1, -300000, -300, rev)
		row(s2, -200000, -200, rev)
		sync()
		sync()
		incWant(t, "s1 half cancelled", f.amounts(camp, s1), []string{"b:60", "p:60", "b:-30", "p:-30"})

		// Re-attribution: everything to s2, with the reversal re-applied.
		f.clk.Set(incSH(11, 12, 9, 0, 0))
		if _, err := f.d.ExecContext(ctx, `DELETE FROM credits WHERE conversion_id = ?`, conv); err != nil {
			t.Fatal(err)
		}
		row(s2, 1000000, 1000, incSH(11, 12, 9, 0, 0))
		row(s2, -500000, -500, incSH(11, 12, 9, 0, 0))
		sync()
		sync()
		incWant(t, "s1 all cancelled", f.summary(camp, s1, time.Time{}).PendingFen, int64(0))
		if st := f.lines(camp, s1, incSH(12, 20, 0, 0, 0))[0].State; st != "cancelled" {
			t.Errorf("s1's first line after its holding period: %s, want cancelled", st)
		}
		sum := f.summary(camp, s2, time.Time{})
		incWant(t, "s2 half of 200", []int64{sum.PendingFen, sum.CancelledFen}, []int64{100, 80 + 100})
	})
}
