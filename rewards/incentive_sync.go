package rewards

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"rmref/internal/db"
)

// SyncConversion is the adapter between attribution's stored credits and
// the incentive hooks: attribution calls it at the end of every
// transaction that writes a conversion's credits (first attribution,
// re-attribution, reversal, adjustment). It reconciles, so calling it
// again changes nothing:
//   - a positive credit row not seen before earns (OnCredits);
//   - a credit row seen before and now gone (re-attribution replaced it)
//     is reversed in full (cancel inside the holding period, clawback after);
//   - a negative row (a reversal's or adjustment's share) reverses that
//     much of the same staff member's credit in the campaign, once.
func (s *Incentives) SyncConversion(ctx context.Context, tx sqlx.ExtContext, conversionID int64) error {
	rows, err := s.sourceCredits(ctx, tx, conversionID)
	if err != nil {
		return err
	}
	if err := s.dropVanished(ctx, tx, conversionID, rows); err != nil {
		return err
	}
	var evs []CreditEvent
	for _, r := range rows {
		if r.positive() && !r.Seen {
			evs = append(evs, r.event())
		}
	}
	if err := s.OnCredits(ctx, tx, evs); err != nil {
		return err
	}
	return s.applyNegatives(ctx, tx, conversionID, rows)
}

// sourceCredit is one row of attribution's credits table, with what
// incentives already know of it.
type sourceCredit struct {
	ID          int64  `db:"id"`
	CampaignID  int64  `db:"campaign_id"`
	StaffID     int64  `db:"staff_id"`
	Type        string `db:"type"`
	Weight      int64  `db:"weight_micro"`
	CreditedFen int64  `db:"credited_fen"`
	UnitID      int64  `db:"unit_id"`
	TeamID      int64  `db:"team_id"`
	SubbranchID int64  `db:"subbranch_id"`
	BranchID    int64  `db:"branch_id"`
	RegionID    int64  `db:"region_id"`
	OccurredAt  int64  `db:"occurred_at"`
	CreatedAt   int64  `db:"created_at"`
	ConvID      int64  `db:"conversion_id"`
	Seen        bool   `db:"seen"`
}

func (r sourceCredit) positive() bool { return r.Weight > 0 || (r.Weight == 0 && r.CreditedFen > 0) }

func (r sourceCredit) event() CreditEvent {
	return CreditEvent{CreditID: r.ID, ConversionID: r.ConvID, CampaignID: r.CampaignID, StaffID: r.StaffID, ConversionType: r.Type,
		Weight: r.Weight, CreditedFen: r.CreditedFen, OccurredAt: db.FromMicros(r.OccurredAt),
		Chain: CreditChain{UnitID: r.UnitID, TeamID: r.TeamID, SubbranchID: r.SubbranchID, BranchID: r.BranchID, RegionID: r.RegionID}}
}

const qSourceCredits = `SELECT c.id, c.conversion_id, c.campaign_id, c.staff_id, v.type, c.weight_micro, c.credited_fen, c.unit_id, c.team_id,
 c.subbranch_id, c.branch_id, c.region_id, c.occurred_at, c.created_at,
 CASE WHEN EXISTS (SELECT 1 FROM incentive_credits i WHERE i.credit_id = c.id)
   OR EXISTS (SELECT 1 FROM incentive_reversal_rows r WHERE r.source_id = c.id) THEN 1 ELSE 0 END AS seen
FROM credits c JOIN conversions v ON v.id = c.conversion_id WHERE c.conversion_id = ? ORDER BY c.id`

func (s *Incentives) sourceCredits(ctx context.Context, tx sqlx.ExtContext, conversionID int64) ([]sourceCredit, error) {
	var rows []sourceCredit
	if err := sqlx.SelectContext(ctx, tx, &rows, qSourceCredits, conversionID); err != nil {
		return nil, fmt.Errorf("rewards: credits of conversion %d: %w", conversionID, err)
	}
	return rows, nil
}

// dropVanished fully reverses credits incentives earned on that
// attribution has since replaced.
func (s *Incentives) dropVanished(ctx context.Context, tx sqlx.ExtContext, conversionID int64, rows []sourceCredit) error {
	var known []int64
	if err := sqlx.SelectContext(ctx, tx, &known, `SELECT credit_id FROM incentive_credits WHERE conversion_id = ? ORDER BY credit_id`, conversionID); err != nil {
		return fmt.Errorf("rewards: known credits: %w", err)
	}
	present := map[int64]bool{}
	for _, r := range rows {
		present[r.ID] = true
	}
	var evs []ReversalEvent
	now := s.clock.Now()
	for _, id := range known {
		if !present[id] {
			evs = append(evs, ReversalEvent{CreditID: id, ConversionID: conversionID, Full: true, At: now})
		}
	}
	return s.OnReversal(ctx, tx, evs)
}

// applyNegatives turns each new negative row into a reversal of the same
// staff member's positive credit in that campaign, and remembers it.
func (s *Incentives) applyNegatives(ctx context.Context, tx sqlx.ExtContext, conversionID int64, rows []sourceCredit) error {
	for _, r := range rows {
		if r.positive() || r.Seen {
			continue
		}
		target := creditOf(rows, r.CampaignID, r.StaffID)
		if target.ID > 0 {
			ev := ReversalEvent{CreditID: target.ID, ConversionID: conversionID, ReversedFen: -r.CreditedFen,
				Full: target.CreditedFen == 0 || -r.Weight >= target.Weight, At: reversalAt(r, s.clock.Now())}
			if err := s.OnReversal(ctx, tx, []ReversalEvent{ev}); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO incentive_reversal_rows (source_id, conversion_id, created_at) VALUES (?, ?, ?)`,
			r.ID, conversionID, db.Micros(s.clock.Now())); err != nil {
			return fmt.Errorf("rewards: remember reversal row: %w", err)
		}
	}
	return nil
}

func creditOf(rows []sourceCredit, campaignID, staffID int64) sourceCredit {
	for _, r := range rows {
		if r.positive() && r.CampaignID == campaignID && r.StaffID == staffID {
			return r
		}
	}
	return sourceCredit{}
}

// reversalAt is when a reversal row took effect: when attribution wrote it
// (never before the conversion itself).
func reversalAt(r sourceCredit, now time.Time) time.Time {
	if r.CreatedAt > 0 {
		return db.FromMicros(max(r.CreatedAt, r.OccurredAt))
	}
	return now
}
