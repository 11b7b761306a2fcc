package rewards

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"rmref/internal/db"
)

// OnReversal books reversals of credits inside the caller's transaction:
// an earning still in its holding period is cancelled (in proportion, for
// a partial reversal, split over the credit's lines by largest remainder);
// one already approved gets a negative clawback line that nets against
// later earnings. Cash given back returns to the campaign budget.
func (s *Incentives) OnReversal(ctx context.Context, tx sqlx.ExtContext, evs []ReversalEvent) error {
	for _, ev := range evs {
		if err := s.reverse(ctx, tx, ev); err != nil {
			return fmt.Errorf("rewards: reverse credit %d: %w", ev.CreditID, err)
		}
	}
	return nil
}

type incCreditRow struct {
	CampaignID    int64  `db:"campaign_id"`
	StaffID       int64  `db:"staff_id"`
	Type          string `db:"conversion_type"`
	Weight        int64  `db:"weight_micro"`
	CreditedFen   int64  `db:"credited_fen"`
	ReversedFen   int64  `db:"reversed_fen"`
	ReversedMicro int64  `db:"reversed_micro"`
	OccurredAt    int64  `db:"occurred_at"`
	PlanID        int64  `db:"plan_id"`
}

func (s *Incentives) reverse(ctx context.Context, tx sqlx.ExtContext, ev ReversalEvent) error {
	var c incCreditRow
	var campaignID int64
	err := sqlx.GetContext(ctx, tx, &campaignID, `SELECT campaign_id FROM incentive_credits WHERE credit_id = ?`, ev.CreditID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil // the credit earned nothing (no plan then)
	}
	if err != nil {
		return err
	}
	run, ok, err := s.openRun(ctx, tx, campaignID)
	if err != nil || !ok {
		return err
	}
	if err := sqlx.GetContext(ctx, tx, &c, `SELECT campaign_id, staff_id, conversion_type, weight_micro, credited_fen, reversed_fen,
 reversed_micro, occurred_at, plan_id FROM incentive_credits WHERE credit_id = ?`+s.st.forUpdate(), ev.CreditID); err != nil {
		return err
	}
	num, den := reversalShare(c, ev)
	if num*c.CreditedFen <= c.ReversedFen*den && c.CreditedFen > 0 {
		return nil // nothing more reversed than before
	}
	back, err := s.reverseLines(ctx, tx, run, ev, num, den)
	if err != nil {
		return err
	}
	revFen := mulDivHalfUp(c.CreditedFen, num, den) - c.ReversedFen
	revMicro := mulDivHalfUp(c.Weight, num, den) - c.ReversedMicro
	if _, err = tx.ExecContext(ctx, `UPDATE incentive_credits SET reversed_fen = reversed_fen + ?, reversed_micro = reversed_micro + ? WHERE credit_id = ?`,
		revFen, revMicro, ev.CreditID); err != nil {
		return err
	}
	return s.unwindProgress(ctx, tx, run, c, revFen, revMicro, back)
}

// lineBack is what a reversal took back from one rule's line of the
// credit, and what the line still holds.
type lineBack struct{ taken, left int64 }

// unwindProgress takes the reversed part of the credit out of its tier and
// stage progress: the period's quantity drops by the reversed weight (or
// fen), the tier's entitlement by what its line gave back, and a stage
// bonus taken back in full may be earned again.
func (s *Incentives) unwindProgress(ctx context.Context, tx sqlx.ExtContext, run *incRun, c incCreditRow, revFen, revMicro int64, back map[string]lineBack) error {
	var plan IncentivePlan
	for _, p := range run.plans {
		if p.ID == c.PlanID {
			plan = p
		}
	}
	at := db.FromMicros(c.OccurredAt)
	for _, r := range plan.Rules {
		if (r.Kind != KindTier && r.Kind != KindStage) || (r.ConversionType != "" && r.ConversionType != c.Type) {
			continue
		}
		key, qty := IncentiveCampaign, revMicro
		if r.Kind == KindTier {
			key = incentivePeriodKey(r.Period, at, run.camp.loc)
			if r.Basis == TierByAmount {
				qty = revFen
			}
		}
		p, err := s.st.progress(ctx, tx, run.camp.ID, c.StaffID, r.ID, key)
		if err != nil {
			return err
		}
		b, hadLine := back[r.ID]
		p.Qty = max(p.Qty-qty, 0)
		if r.Kind == KindTier {
			p.Entitled = max(p.Entitled-b.taken, 0)
		} else if hadLine && b.left == 0 && b.taken > 0 {
			p.Done, p.Entitled = 0, 0
		}
		if err := s.st.setProgress(ctx, tx, run.camp.ID, c.StaffID, r.ID, key, p); err != nil {
			return err
		}
	}
	return nil
}

// reversalShare is the part of the credit reversed so far, this reversal
// included, as a fraction num/den of the whole credit.
func reversalShare(c incCreditRow, ev ReversalEvent) (num, den int64) {
	if ev.Full || c.CreditedFen <= 0 {
		return 1, 1
	}
	return min(c.ReversedFen+max(ev.ReversedFen, 0), c.CreditedFen), c.CreditedFen
}

// reverseLines brings what was taken back from each currency's earnings
// of the credit up to num/den of them, split over its lines by largest
// remainder (cumulatively, so successive partial reversals add up to
// exactly the whole).
func (s *Incentives) reverseLines(ctx context.Context, tx sqlx.ExtContext, run *incRun, ev ReversalEvent, num, den int64) (map[string]lineBack, error) {
	var lines []struct {
		earningRow
		Back int64 `db:"back"`
	}
	q := `SELECT ` + prefixed("e.", earningCols) + `, COALESCE((SELECT SUM(-n.amount) FROM incentive_earnings n WHERE n.ref_id = e.id), 0) AS back
FROM incentive_earnings e WHERE e.credit_id = ? AND e.entry = 'earning' ORDER BY e.id`
	if err := sqlx.SelectContext(ctx, tx, &lines, q, ev.CreditID); err != nil {
		return nil, err
	}
	back := map[string]lineBack{}
	for _, cur := range incentiveCurrencies {
		var idx []int
		var amounts []int64
		var total int64
		for i, l := range lines {
			if l.Currency == cur && l.Amount > 0 {
				idx, amounts, total = append(idx, i), append(amounts, l.Amount), total+l.Amount
			}
		}
		shares := LargestRemainder(mulDivHalfUp(total, num, den), amounts)
		for k, i := range idx {
			l := lines[i]
			share := min(shares[k], l.Amount) - l.Back
			if err := s.takeBack(ctx, tx, run, l.earningRow, share, ev.At); err != nil {
				return nil, err
			}
			b := back[l.RuleID]
			back[l.RuleID] = lineBack{taken: b.taken + max(share, 0), left: b.left + l.Amount - l.Back - max(share, 0)}
		}
	}
	return back, nil
}

// takeBack books a cancel (inside the holding period) or a clawback (after
// it) of share from line e.
func (s *Incentives) takeBack(ctx context.Context, tx sqlx.ExtContext, run *incRun, e earningRow, share int64, at time.Time) error {
	if share <= 0 {
		return nil
	}
	n := earningRow{CampaignID: e.CampaignID, StaffID: e.StaffID, PlanID: e.PlanID, RuleID: e.RuleID, RuleKind: e.RuleKind,
		Currency: e.Currency, Entry: EntryCancel, RefID: nullID(e.ID), CreditID: e.CreditID, ConversionID: e.ConversionID,
		PeriodKey: e.PeriodKey, UnitID: e.UnitID, Amount: -share, OccurredAt: db.Micros(at), HoldUntil: e.HoldUntil, CreatedAt: db.Micros(run.now)}
	if db.Micros(at) >= e.HoldUntil {
		n.Entry, n.HoldUntil = EntryClawback, db.Micros(at)
	}
	if _, err := s.st.insertEarning(ctx, tx, n); err != nil {
		return err
	}
	if e.Currency == CurrencyCash && run.budget.BudgetFen >= 0 {
		return s.st.spendBudget(ctx, tx, &run.budget, -share, run.now)
	}
	return nil
}

// prefixed qualifies each column of a comma-separated list with p.
func prefixed(p, cols string) string {
	out, start := "", 0
	for i := 0; i <= len(cols); i++ {
		if i == len(cols) || cols[i] == ',' {
			c := cols[start:i]
			for len(c) > 0 && (c[0] == ' ' || c[0] == '\n') {
				c = c[1:]
			}
			if out != "" {
				out += ", "
			}
			out += p + c
			start = i + 1
		}
	}
	return out
}
