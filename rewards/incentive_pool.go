package rewards

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"rmref/internal/db"
)

// Unit pools: a team's or branch's bonus for a month, split among the
// unit's active members by their share of the unit's credits that month
// (weights net of reversals), by largest remainder so the shares sum to
// the pool exactly. A month's pools are distributed once, when the month
// is settled, by the plan in force at the month's end; the lines are
// dated the month's last instant and approved at once (the month is over).

type poolShare struct {
	UnitID  int64 `db:"unit_id"`
	StaffID int64 `db:"staff_id"`
	Weight  int64 `db:"weight"`
}

func (s *Incentives) distributePools(ctx context.Context, tx sqlx.ExtContext, run *incRun, period string) error {
	start, end, ok := monthBounds(period, run.camp.loc)
	if !ok {
		return fmt.Errorf("rewards: pool period %q", period)
	}
	last := end.Add(-time.Microsecond)
	plan, ok := planAt(run.plans, last)
	if !ok {
		return nil
	}
	for _, r := range plan.Rules {
		if r.Kind != KindPool {
			continue
		}
		if err := s.distributePool(ctx, tx, run, plan, r, period, start, end); err != nil {
			return err
		}
	}
	return s.flush(ctx, tx, run)
}

func (s *Incentives) distributePool(ctx context.Context, tx sqlx.ExtContext, run *incRun, plan IncentivePlan, r IncentiveRule, period string, start, end time.Time) error {
	var done int
	if err := sqlx.GetContext(ctx, tx, &done, `SELECT COUNT(*) FROM incentive_pool_runs WHERE campaign_id = ? AND rule_id = ? AND period_key = ?`,
		run.camp.ID, r.ID, period); err != nil || done > 0 {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO incentive_pool_runs (campaign_id, rule_id, period_key, plan_id, created_at) VALUES (?, ?, ?, ?, ?)`,
		run.camp.ID, r.ID, period, plan.ID, db.Micros(run.now)); err != nil {
		return fmt.Errorf("rewards: pool run: %w", err)
	}
	shares, err := s.poolShares(ctx, tx, run.camp.ID, r, start, end)
	if err != nil {
		return err
	}
	last := end.Add(-time.Microsecond)
	for i := 0; i < len(shares); {
		j := i
		var weights []int64
		for ; j < len(shares) && shares[j].UnitID == shares[i].UnitID; j++ {
			weights = append(weights, shares[j].Weight)
		}
		split := LargestRemainder(r.Amount, weights)
		for k := i; k < j; k++ {
			line := earningRow{RuleID: r.ID, RuleKind: r.Kind, PeriodKey: period, UnitID: nullID(shares[k].UnitID), HoldUntil: db.Micros(last)}
			if split[k-i] <= 0 {
				continue
			}
			if err := s.book(ctx, tx, run, plan, shares[k].StaffID, r.Currency, split[k-i], last, line); err != nil {
				return err
			}
		}
		i = j
	}
	return nil
}

func (s *Incentives) poolShares(ctx context.Context, tx sqlx.ExtContext, campaignID int64, r IncentiveRule, start, end time.Time) ([]poolShare, error) {
	unitCol := "c.team_id"
	if r.UnitKind == "branch" {
		unitCol = "c.branch_id"
	}
	q := `SELECT ` + unitCol + ` AS unit_id, c.staff_id, SUM(c.weight_micro - c.reversed_micro) AS weight
FROM incentive_credits c JOIN staff s ON s.id = c.staff_id AND s.status = 'active'
WHERE c.campaign_id = ? AND c.occurred_at >= ? AND c.occurred_at < ? AND ` + unitCol + ` > 0`
	args := []any{campaignID, db.Micros(start), db.Micros(end)}
	if r.ConversionType != "" {
		q += ` AND c.conversion_type = ?`
		args = append(args, r.ConversionType)
	}
	q += ` GROUP BY ` + unitCol + `, c.staff_id HAVING SUM(c.weight_micro - c.reversed_micro) > 0 ORDER BY unit_id, c.staff_id`
	var out []poolShare
	if err := sqlx.SelectContext(ctx, tx, &out, q, args...); err != nil {
		return nil, fmt.Errorf("rewards: pool shares: %w", err)
	}
	return out, nil
}
