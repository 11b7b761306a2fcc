package attribution

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/jmoiron/sqlx"

	"rmref/internal/auth"
	"rmref/internal/db"
)

// BoardStore is the SQL behind leaderboards, funnels and reports.
type BoardStore struct {
	Dialect db.Dialect
}

// creditSum is the credits of one key of a level.
type creditSum struct {
	Key     int64 `db:"key_id"`
	Weight  int64 `db:"w"`
	Fen     int64 `db:"f"`
	Reached int64 `db:"reached"`
}

// levelColumn names the credits column of a level.
func levelColumn(level string) string {
	switch level {
	case LevelTeam:
		return "team_id"
	case LevelSubbranch:
		return "subbranch_id"
	case LevelBranch:
		return "branch_id"
	case LevelRegion:
		return "region_id"
	}
	return "staff_id"
}

// pathFilter adds a subtree condition on col (nothing for "").
func pathFilter(col, prefix string, args []any) (string, []any) {
	if prefix == "" {
		return "", args
	}
	lo, hi := auth.PathRange(prefix)
	return " AND " + col + " >= ? AND " + col + " < ?", append(args, lo, hi)
}

// creditSums sums credits per key of level over the days, in the scope,
// created before (or, when after is set, at or after) the freeze instant.
func (s BoardStore) creditSums(ctx context.Context, ext sqlx.ExtContext, w window, level string, after bool) ([]creditSum, error) {
	col := levelColumn(level)
	group := col
	if s.Dialect != nil && s.Dialect.Name() == "mysql" {
		// Grouping by "col + 0" keeps MariaDB from walking the (campaign_id,
		// staff_id) index for the GROUP BY with a row lookup per credit; the
		// covering credits_board index is read instead (2x faster staff boards).
		group = col + " + 0"
	}
	q := `SELECT ` + group + ` AS key_id, SUM(weight_micro) AS w, SUM(credited_fen) AS f, MAX(occurred_at) AS reached
		FROM credits WHERE campaign_id = ? AND day >= ? AND day <= ? AND ` + col + ` <> 0`
	args := []any{w.camp.ID, w.from, w.to}
	cond, args := pathFilter("unit_path", w.scopePath, args)
	q += cond
	switch {
	case after && w.freeze.IsZero():
		return nil, nil
	case after:
		q, args = q+` AND created_at >= ?`, append(args, db.Micros(w.freeze))
	case !w.freeze.IsZero():
		q, args = q+` AND created_at < ?`, append(args, db.Micros(w.freeze))
	}
	var rows []creditSum
	if err := sqlx.SelectContext(ctx, ext, &rows, q+` GROUP BY `+group, args...); err != nil {
		return nil, fmt.Errorf("attribution: board credits: %w", err)
	}
	return rows, nil
}

// staffAdjustment is a recorded (not applied) late change per staff member.
type staffAdjustment struct {
	StaffID int64 `db:"staff_id"`
	Weight  int64 `db:"w"`
	Fen     int64 `db:"f"`
}

// adjustments sums the recorded adjustments of a frozen campaign per staff
// member, for conversions on the days.
func (s BoardStore) adjustments(ctx context.Context, ext sqlx.ExtContext, w window) ([]staffAdjustment, error) {
	if w.freeze.IsZero() {
		return nil, nil
	}
	var rows []staffAdjustment
	err := sqlx.SelectContext(ctx, ext, &rows, `SELECT a.staff_id, SUM(a.weight_micro) AS w, SUM(a.credited_fen) AS f
		FROM attribution_adjustments a JOIN conversions c ON c.id = a.conversion_id
		WHERE a.campaign_id = ? AND c.occurred_at >= ? AND c.occurred_at < ? GROUP BY a.staff_id`,
		w.camp.ID, db.Micros(dayStart(w.from, w.camp.Location)), db.Micros(dayStart(w.to, w.camp.Location).AddDate(0, 0, 1)))
	if err != nil {
		return nil, fmt.Errorf("attribution: board adjustments: %w", err)
	}
	return rows, nil
}

// dayStart is 00:00 of a YYYY-MM-DD day in loc.
func dayStart(day string, loc *time.Location) time.Time {
	if loc == nil {
		loc = time.UTC
	}
	t, _ := time.ParseInLocation(time.DateOnly, day, loc)
	return t
}

// visitorRow is one staff member's counted clicks from one visitor.
type visitorRow struct {
	StaffID   int64  `db:"staff_id"`
	VisitorID string `db:"visitor_id"`
	Clicks    int64  `db:"n"`
	First     int64  `db:"first_at"`
	Last      int64  `db:"last_at"`
}

// visitors returns counted clicks per (staff, visitor) over the days.
func (s BoardStore) visitors(ctx context.Context, ext sqlx.ExtContext, w window) ([]visitorRow, error) {
	var rows []visitorRow
	err := sqlx.SelectContext(ctx, ext, &rows, `SELECT staff_id, visitor_id, COUNT(*) AS n, MIN(at) AS first_at, MAX(at) AS last_at
		FROM referral_clicks WHERE campaign_id = ? AND counted = 1 AND day >= ? AND day <= ? AND at < ?
		GROUP BY staff_id, visitor_id`, w.camp.ID, w.from, w.to, w.cutoff())
	if err != nil {
		return nil, fmt.Errorf("attribution: board clicks: %w", err)
	}
	return rows, nil
}

// shareRow is one staff member's shares.
type shareRow struct {
	StaffID int64 `db:"staff_id"`
	Shares  int64 `db:"n"`
	Last    int64 `db:"last_at"`
}

// shares returns shares per staff member over the days.
func (s BoardStore) shares(ctx context.Context, ext sqlx.ExtContext, w window) ([]shareRow, error) {
	var rows []shareRow
	err := sqlx.SelectContext(ctx, ext, &rows, `SELECT staff_id, COUNT(*) AS n, MAX(at) AS last_at
		FROM referral_shares WHERE campaign_id = ? AND day >= ? AND day <= ? AND at < ? GROUP BY staff_id`, w.camp.ID, w.from, w.to, w.cutoff())
	if err != nil {
		return nil, fmt.Errorf("attribution: board shares: %w", err)
	}
	return rows, nil
}

// activeStaff returns the staff members placed in a unit and not gone at
// instant at.
func (s BoardStore) activeStaff(ctx context.Context, ext sqlx.ExtContext, at time.Time) ([]int64, error) {
	us := db.Micros(at)
	var ids []int64
	err := sqlx.SelectContext(ctx, ext, &ids, `SELECT DISTINCT a.staff_id FROM staff_assignments a JOIN staff s ON s.id = a.staff_id
		WHERE a.valid_from <= ? AND a.valid_to > ? AND (s.left_at IS NULL OR s.left_at > ?)`, us, us, us)
	if err != nil {
		return nil, fmt.Errorf("attribution: active staff: %w", err)
	}
	return ids, nil
}

// names returns the names of staff members or units by id.
func (s BoardStore) names(ctx context.Context, ext sqlx.ExtContext, level string, ids []int64) (map[int64]string, error) {
	out := make(map[int64]string, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	table := "org_units"
	if level == LevelStaff {
		table = "staff"
	}
	for start := 0; start < len(ids); start += 500 {
		part := ids[start:min(start+500, len(ids))]
		q, args, err := sqlx.In(`SELECT id, name FROM `+table+` WHERE id IN (?)`, part)
		if err != nil {
			return nil, fmt.Errorf("attribution: names: %w", err)
		}
		var rows []struct {
			ID   int64  `db:"id"`
			Name string `db:"name"`
		}
		if err := sqlx.SelectContext(ctx, ext, &rows, ext.Rebind(q), args...); err != nil {
			return nil, fmt.Errorf("attribution: names: %w", err)
		}
		for _, r := range rows {
			out[r.ID] = r.Name
		}
	}
	return out, nil
}

// cutoff is the instant after which shares and clicks no longer count: the
// freeze of a frozen board, else none.
func (w window) cutoff() int64 {
	if w.freeze.IsZero() {
		return math.MaxInt64
	}
	return db.Micros(w.freeze)
}
