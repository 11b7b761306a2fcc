package attribution

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"
)

// SumMismatch is a conversion whose credits in a campaign do not sum to
// its amount (net of reversals).
type SumMismatch struct {
	ConversionID int64  `json:"conversion_id,string" db:"conversion_id"`
	CampaignID   int64  `json:"campaign_id,string" db:"campaign_id"`
	Rule         string `json:"rule" db:"rule"`
	WantFen      int64  `json:"want_fen" db:"want_fen"`
	CreditedFen  int64  `json:"credited_fen" db:"credited_fen"`
}

// RollupKey names one rollup cell.
type RollupKey struct {
	CampaignID int64  `json:"campaign_id,string" db:"campaign_id"`
	Level      string `json:"level" db:"level"`
	KeyID      int64  `json:"key_id,string" db:"key_id"`
	Day        string `json:"day" db:"day"`
}

// RollupTotals are a cell's sums.
type RollupTotals struct {
	WeightMicro int64 `json:"weight_micro" db:"weight_micro"`
	CreditedFen int64 `json:"credited_fen" db:"credited_fen"`
}

// RollupDiff is a rollup cell that differs from a rebuild from credits.
type RollupDiff struct {
	RollupKey
	Rollup  RollupTotals `json:"rollup"`
	Rebuild RollupTotals `json:"rebuild"`
}

// CheckReport is the outcome of a reconciliation.
type CheckReport struct {
	OK          bool          `json:"ok"`
	Conversions int64         `json:"conversions"`
	Credits     int64         `json:"credits"`
	Mismatches  []SumMismatch `json:"mismatches"`
	RollupDiffs []RollupDiff  `json:"rollup_diffs"`
}

const sumCheckQuery = `SELECT a.conversion_id, a.campaign_id, a.rule,
	CASE WHEN a.rule IN ('binding', 'protection', 'model') THEN c.amount_fen - c.reversed_fen ELSE 0 END AS want_fen,
	COALESCE((SELECT SUM(cr.credited_fen) FROM credits cr WHERE cr.conversion_id = a.conversion_id AND cr.campaign_id = a.campaign_id), 0) AS credited_fen
	FROM attributions a JOIN conversions c ON c.id = a.conversion_id`

// Check verifies that every conversion's credits sum exactly to its amount
// net of reversals in every campaign it is credited in, and that the
// rollups equal a rebuild from the credits.
func Check(ctx context.Context, ext sqlx.ExtContext) (CheckReport, error) {
	rep := CheckReport{Mismatches: []SumMismatch{}, RollupDiffs: []RollupDiff{}}
	var rows []SumMismatch
	q := `SELECT conversion_id, campaign_id, rule, want_fen, credited_fen FROM (` + sumCheckQuery + `) t WHERE want_fen <> credited_fen`
	if err := sqlx.SelectContext(ctx, ext, &rows, q); err != nil {
		return rep, fmt.Errorf("attribution: check sums: %w", err)
	}
	rep.Mismatches = append(rep.Mismatches, rows...)
	if err := sqlx.GetContext(ctx, ext, &rep.Conversions, `SELECT COUNT(*) FROM conversions`); err != nil {
		return rep, fmt.Errorf("attribution: check: %w", err)
	}
	if err := sqlx.GetContext(ctx, ext, &rep.Credits, `SELECT COUNT(*) FROM credits`); err != nil {
		return rep, fmt.Errorf("attribution: check: %w", err)
	}
	diffs, err := rollupDiffs(ctx, ext)
	if err != nil {
		return rep, err
	}
	rep.RollupDiffs = diffs
	rep.OK = len(rep.Mismatches) == 0 && len(rep.RollupDiffs) == 0
	return rep, nil
}

// RollupCell is one rollup cell with its sums.
type RollupCell struct {
	RollupKey
	RollupTotals
}

const rebuildQuery = `SELECT campaign_id, level, key_id, day, SUM(weight_micro) AS weight_micro, SUM(credited_fen) AS credited_fen FROM (
	SELECT campaign_id, 'staff' AS level, staff_id AS key_id, day, weight_micro, credited_fen FROM credits
	UNION ALL SELECT campaign_id, 'team', team_id, day, weight_micro, credited_fen FROM credits WHERE team_id <> 0
	UNION ALL SELECT campaign_id, 'subbranch', subbranch_id, day, weight_micro, credited_fen FROM credits WHERE subbranch_id <> 0
	UNION ALL SELECT campaign_id, 'branch', branch_id, day, weight_micro, credited_fen FROM credits WHERE branch_id <> 0
	UNION ALL SELECT campaign_id, 'region', region_id, day, weight_micro, credited_fen FROM credits WHERE region_id <> 0
	) x GROUP BY campaign_id, level, key_id, day`

const rollupQuery = `SELECT campaign_id, level, key_id, day, SUM(weight_micro) AS weight_micro, SUM(credited_fen) AS credited_fen
	FROM rollup_deltas GROUP BY campaign_id, level, key_id, day`

// rollupDiffs compares the summed rollup deltas with a rebuild from
// credits, cell by cell (a cell summing to zero equals a missing one).
func rollupDiffs(ctx context.Context, ext sqlx.ExtContext) ([]RollupDiff, error) {
	load := func(q string) (map[RollupKey]RollupTotals, error) {
		var rows []RollupCell
		if err := sqlx.SelectContext(ctx, ext, &rows, q); err != nil {
			return nil, fmt.Errorf("attribution: check rollups: %w", err)
		}
		m := make(map[RollupKey]RollupTotals, len(rows))
		for _, r := range rows {
			if r.RollupTotals != (RollupTotals{}) {
				m[r.RollupKey] = r.RollupTotals
			}
		}
		return m, nil
	}
	rebuilt, err := load(rebuildQuery)
	if err != nil {
		return nil, err
	}
	rolled, err := load(rollupQuery)
	if err != nil {
		return nil, err
	}
	out := []RollupDiff{}
	for k, v := range rolled {
		if rebuilt[k] != v {
			out = append(out, RollupDiff{RollupKey: k, Rollup: v, Rebuild: rebuilt[k]})
		}
	}
	for k, v := range rebuilt {
		if _, ok := rolled[k]; !ok {
			out = append(out, RollupDiff{RollupKey: k, Rebuild: v})
		}
	}
	return out, nil
}

// Rollups returns a campaign's leaderboard cells at one level (staff,
// team, subbranch, branch, region) for days in [fromDay, toDay], summed
// over their deltas.
func Rollups(ctx context.Context, ext sqlx.ExtContext, campaignID int64, level, fromDay, toDay string) ([]RollupCell, error) {
	var rows []RollupCell
	err := sqlx.SelectContext(ctx, ext, &rows, `SELECT campaign_id, level, key_id, day, SUM(weight_micro) AS weight_micro, SUM(credited_fen) AS credited_fen
		FROM rollup_deltas WHERE campaign_id = ? AND level = ? AND day >= ? AND day <= ? GROUP BY campaign_id, level, key_id, day ORDER BY key_id, day`,
		campaignID, level, fromDay, toDay)
	if err != nil {
		return nil, fmt.Errorf("attribution: rollups: %w", err)
	}
	return rows, nil
}
