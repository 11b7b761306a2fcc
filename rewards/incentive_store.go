package rewards

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"rmref/internal/db"
)

// incStore is the SQL of staff incentives. Rows that are read and then
// written (budget, caps, progress) are read with a locking read on MySQL
// (SQLite's immediate transactions already hold the write lock), and the
// campaign's budget row is always locked first, so concurrent conversion
// transactions of one campaign queue on it and never deadlock.
type incStore struct{ dialect db.Dialect }

func (s incStore) forUpdate() string {
	if s.dialect.Name() == "mysql" {
		return " FOR UPDATE"
	}
	return ""
}

// incCampaign is what incentives need of a campaign.
type incCampaign struct {
	ID          int64  `db:"id"`
	Code        string `db:"code"`
	Name        string `db:"name"`
	Timezone    string `db:"timezone"`
	HoldingDays int    `db:"holding_days"`
	loc         *time.Location
}

const qIncCampaign = `SELECT id, code, name, timezone, holding_days FROM campaigns WHERE id = ?`

func (s incStore) campaign(ctx context.Context, ext sqlx.ExtContext, id int64) (incCampaign, error) {
	var c incCampaign
	if err := sqlx.GetContext(ctx, ext, &c, qIncCampaign, id); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return c, ErrIncentiveCampaign
		}
		return c, fmt.Errorf("rewards: campaign %d: %w", id, err)
	}
	loc, err := incLocation(c.Timezone)
	if err != nil {
		return c, fmt.Errorf("rewards: campaign %d time zone: %w", id, err)
	}
	c.loc = loc
	return c, nil
}

var incLocations sync.Map // zone name → *time.Location

// incLocation loads a time zone once per process.
func incLocation(name string) (*time.Location, error) {
	if l, ok := incLocations.Load(name); ok {
		return l.(*time.Location), nil
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	incLocations.Store(name, l)
	return l, nil
}

type planRow struct {
	ID         int64         `db:"id"`
	CampaignID int64         `db:"campaign_id"`
	Version    int           `db:"version"`
	Status     string        `db:"status"`
	BudgetFen  int64         `db:"budget_fen"`
	Body       string        `db:"body"`
	ProposedBy int64         `db:"proposed_by"`
	ProposedAt int64         `db:"proposed_at"`
	DecidedBy  sql.NullInt64 `db:"decided_by"`
	DecidedAt  sql.NullInt64 `db:"decided_at"`
}

type planBody struct {
	Caps  []IncentiveCap  `json:"caps"`
	Rules []IncentiveRule `json:"rules"`
}

func (r planRow) plan() (IncentivePlan, error) {
	p := IncentivePlan{ID: r.ID, CampaignID: r.CampaignID, Version: r.Version, Status: r.Status,
		ProposedBy: r.ProposedBy, ProposedAt: db.FromMicros(r.ProposedAt), DecidedBy: r.DecidedBy.Int64}
	if r.BudgetFen >= 0 {
		b := r.BudgetFen
		p.BudgetFen = &b
	}
	if r.DecidedAt.Valid {
		t := db.FromMicros(r.DecidedAt.Int64)
		p.DecidedAt = &t
	}
	var body planBody
	if err := json.Unmarshal([]byte(r.Body), &body); err != nil {
		return p, fmt.Errorf("rewards: plan %d body: %w", r.ID, err)
	}
	p.Caps, p.Rules = body.Caps, body.Rules
	if p.Caps == nil {
		p.Caps = []IncentiveCap{}
	}
	return p, nil
}

const planCols = `id, campaign_id, version, status, budget_fen, body, proposed_by, proposed_at, decided_by, decided_at`

func (s incStore) plans(ctx context.Context, ext sqlx.ExtContext, q string, args ...any) ([]IncentivePlan, error) {
	var rows []planRow
	if err := sqlx.SelectContext(ctx, ext, &rows, `SELECT `+planCols+` FROM incentive_plans `+q, args...); err != nil {
		return nil, fmt.Errorf("rewards: plans: %w", err)
	}
	out := make([]IncentivePlan, 0, len(rows))
	for _, r := range rows {
		p, err := r.plan()
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func (s incStore) plan(ctx context.Context, ext sqlx.ExtContext, id int64) (IncentivePlan, error) {
	ps, err := s.plans(ctx, ext, `WHERE id = ?`+s.forUpdate(), id)
	if err != nil {
		return IncentivePlan{}, err
	}
	if len(ps) == 0 {
		return IncentivePlan{}, ErrIncentivePlanNotFound
	}
	return ps[0], nil
}

// approvedPlans returns a campaign's approved versions, oldest first.
func (s incStore) approvedPlans(ctx context.Context, ext sqlx.ExtContext, campaignID int64) ([]IncentivePlan, error) {
	return s.plans(ctx, ext, `WHERE campaign_id = ? AND status = 'approved' ORDER BY decided_at, id`, campaignID)
}

// planAt returns the approved version in force at t (the last one
// approved at or before t), or ok=false.
func planAt(plans []IncentivePlan, t time.Time) (IncentivePlan, bool) {
	for i := len(plans) - 1; i >= 0; i-- {
		if !plans[i].DecidedAt.After(t) {
			return plans[i], true
		}
	}
	return IncentivePlan{}, false
}

const qInsertPlan = `INSERT INTO incentive_plans (campaign_id, version, status, budget_fen, body, proposed_by, proposed_at, created_at)
VALUES (?, ?, 'proposed', ?, ?, ?, ?, ?)`

func (s incStore) insertPlan(ctx context.Context, ext sqlx.ExtContext, in IncentivePlanInput, by int64, now time.Time) (int64, error) {
	var version int
	if err := sqlx.GetContext(ctx, ext, &version, `SELECT COALESCE(MAX(version), 0) FROM incentive_plans WHERE campaign_id = ?`, in.CampaignID); err != nil {
		return 0, fmt.Errorf("rewards: plan version: %w", err)
	}
	body, err := json.Marshal(planBody{Caps: in.Caps, Rules: in.Rules})
	if err != nil {
		return 0, fmt.Errorf("rewards: encode plan: %w", err)
	}
	budget := int64(-1)
	if in.BudgetFen != nil {
		budget = *in.BudgetFen
	}
	res, err := ext.ExecContext(ctx, qInsertPlan, in.CampaignID, version+1, budget, string(body), by, db.Micros(now), db.Micros(now))
	if err != nil {
		return 0, fmt.Errorf("rewards: insert plan: %w", err)
	}
	return res.LastInsertId()
}

func (s incStore) decidePlan(ctx context.Context, ext sqlx.ExtContext, id int64, status string, by int64, now time.Time) error {
	res, err := ext.ExecContext(ctx, `UPDATE incentive_plans SET status = ?, decided_by = ?, decided_at = ? WHERE id = ? AND status = 'proposed'`,
		status, by, db.Micros(now), id)
	if err != nil {
		return fmt.Errorf("rewards: decide plan %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return ErrIncentiveNotProposed
	}
	return nil
}

// setBudget creates or changes the campaign's budget row, keeping what is used.
func (s incStore) setBudget(ctx context.Context, ext sqlx.ExtContext, campaignID, budget int64, now time.Time) error {
	q := `INSERT INTO incentive_budgets (campaign_id, budget_fen, used_fen, updated_at) VALUES (?, ?, 0, ?) ` +
		s.dialect.Upsert([]string{"campaign_id"}, []string{"budget_fen", "updated_at"})
	if _, err := ext.ExecContext(ctx, q, campaignID, budget, db.Micros(now)); err != nil {
		return fmt.Errorf("rewards: budget of campaign %d: %w", campaignID, err)
	}
	return nil
}

// incBudget is a campaign's budget row, locked for the transaction.
type incBudget struct {
	CampaignID int64 `db:"campaign_id"`
	BudgetFen  int64 `db:"budget_fen"` // < 0: no budget
	UsedFen    int64 `db:"used_fen"`
	LastPlanID int64 `db:"last_plan"` // the newest approved plan version's id
	// The campaign's settings, read in the same round trip.
	Code        string `db:"code"`
	Name        string `db:"name"`
	Timezone    string `db:"timezone"`
	HoldingDays int    `db:"holding_days"`
}

func (b incBudget) left() int64 { return b.BudgetFen - b.UsedFen }

// qLockBudget reads the budget row with the newest approved plan id and
// the campaign's settings (scalar subqueries: only the budget row is locked).
const qLockBudget = `SELECT campaign_id, budget_fen, used_fen,
 COALESCE((SELECT MAX(p.id) FROM incentive_plans p WHERE p.campaign_id = b.campaign_id AND p.status = 'approved'), 0) AS last_plan,
 COALESCE((SELECT c.code FROM campaigns c WHERE c.id = b.campaign_id), '') AS code,
 COALESCE((SELECT c.name FROM campaigns c WHERE c.id = b.campaign_id), '') AS name,
 COALESCE((SELECT c.timezone FROM campaigns c WHERE c.id = b.campaign_id), 'UTC') AS timezone,
 COALESCE((SELECT c.holding_days FROM campaigns c WHERE c.id = b.campaign_id), 0) AS holding_days
FROM incentive_budgets b WHERE campaign_id = ?`

// lockBudget locks the campaign's budget row; ok=false when the campaign
// has no approved plan (and so nothing to earn).
func (s incStore) lockBudget(ctx context.Context, ext sqlx.ExtContext, campaignID int64) (incBudget, bool, error) {
	var b incBudget
	err := sqlx.GetContext(ctx, ext, &b, qLockBudget+s.forUpdate(), campaignID)
	if errors.Is(err, sql.ErrNoRows) {
		return b, false, nil
	}
	if err != nil {
		return b, false, fmt.Errorf("rewards: lock budget of campaign %d: %w", campaignID, err)
	}
	return b, true, nil
}

// spendBudget adds fen (negative: gives back) to the used budget; the
// condition refuses to pass the budget even if a caller forgot the lock.
func (s incStore) spendBudget(ctx context.Context, ext sqlx.ExtContext, b *incBudget, fen int64, now time.Time) error {
	if fen == 0 {
		return nil
	}
	res, err := ext.ExecContext(ctx, `UPDATE incentive_budgets SET used_fen = used_fen + ?, updated_at = ?
WHERE campaign_id = ? AND (budget_fen < 0 OR used_fen + ? <= budget_fen)`, fen, db.Micros(now), b.CampaignID, fen)
	if err != nil {
		return fmt.Errorf("rewards: spend budget: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("rewards: budget of campaign %d would be overspent", b.CampaignID)
	}
	b.UsedFen += fen
	return nil
}

func (s incStore) capUsed(ctx context.Context, ext sqlx.ExtContext, campaignID, staffID int64, period, key, currency string) (int64, error) {
	var used int64
	err := sqlx.GetContext(ctx, ext, &used, `SELECT used FROM incentive_cap_usage
WHERE campaign_id = ? AND staff_id = ? AND cap_period = ? AND period_key = ? AND currency = ?`+s.forUpdate(),
		campaignID, staffID, period, key, currency)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("rewards: cap usage: %w", err)
	}
	return used, nil
}

// incProgress is a staff member's progress on a tier or stage rule in a period.
type incProgress struct {
	Qty      int64 `db:"qty"`
	Entitled int64 `db:"entitled"`
	Done     int64 `db:"done"`
}

func (s incStore) progress(ctx context.Context, ext sqlx.ExtContext, campaignID, staffID int64, ruleID, key string) (incProgress, error) {
	var p incProgress
	err := sqlx.GetContext(ctx, ext, &p, `SELECT qty, entitled, done FROM incentive_progress
WHERE campaign_id = ? AND staff_id = ? AND rule_id = ? AND period_key = ?`+s.forUpdate(), campaignID, staffID, ruleID, key)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return p, fmt.Errorf("rewards: progress: %w", err)
	}
	return p, nil
}

func (s incStore) setProgress(ctx context.Context, ext sqlx.ExtContext, campaignID, staffID int64, ruleID, key string, p incProgress) error {
	q := `INSERT INTO incentive_progress (campaign_id, staff_id, rule_id, period_key, qty, entitled, done) VALUES (?, ?, ?, ?, ?, ?, ?) ` +
		s.dialect.Upsert([]string{"campaign_id", "staff_id", "rule_id", "period_key"}, []string{"qty", "entitled", "done"})
	if _, err := ext.ExecContext(ctx, q, campaignID, staffID, ruleID, key, p.Qty, p.Entitled, p.Done); err != nil {
		return fmt.Errorf("rewards: progress: %w", err)
	}
	return nil
}

// earningRow is one ledger entry as stored.
type earningRow struct {
	ID           int64         `db:"id"`
	CampaignID   int64         `db:"campaign_id"`
	StaffID      int64         `db:"staff_id"`
	PlanID       int64         `db:"plan_id"`
	RuleID       string        `db:"rule_id"`
	RuleKind     string        `db:"rule_kind"`
	Currency     string        `db:"currency"`
	Entry        string        `db:"entry"`
	RefID        sql.NullInt64 `db:"ref_id"`
	CreditID     sql.NullInt64 `db:"credit_id"`
	ConversionID sql.NullInt64 `db:"conversion_id"`
	PeriodKey    string        `db:"period_key"`
	UnitID       sql.NullInt64 `db:"unit_id"`
	Amount       int64         `db:"amount"`
	Capped       int64         `db:"capped"`
	CappedReason string        `db:"capped_reason"`
	OccurredAt   int64         `db:"occurred_at"`
	HoldUntil    int64         `db:"hold_until"`
	BatchID      sql.NullInt64 `db:"batch_id"`
	SettledAt    sql.NullInt64 `db:"settled_at"`
	CreatedAt    int64         `db:"created_at"`
}

const earningCols = `id, campaign_id, staff_id, plan_id, rule_id, rule_kind, currency, entry, ref_id, credit_id, conversion_id,
period_key, unit_id, amount, capped, capped_reason, occurred_at, hold_until, batch_id, settled_at, created_at`

const qInsertEarning = `INSERT INTO incentive_earnings (campaign_id, staff_id, plan_id, rule_id, rule_kind, currency, entry, ref_id,
credit_id, conversion_id, period_key, unit_id, amount, capped, capped_reason, occurred_at, hold_until, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

func (s incStore) insertEarning(ctx context.Context, ext sqlx.ExtContext, e earningRow) (int64, error) {
	res, err := ext.ExecContext(ctx, qInsertEarning, e.CampaignID, e.StaffID, e.PlanID, e.RuleID, e.RuleKind, e.Currency, e.Entry, e.RefID,
		e.CreditID, e.ConversionID, e.PeriodKey, e.UnitID, e.Amount, e.Capped, e.CappedReason, e.OccurredAt, e.HoldUntil, e.CreatedAt)
	if err != nil {
		return 0, fmt.Errorf("rewards: insert earning: %w", err)
	}
	return res.LastInsertId()
}

// insertEarnings inserts lines with one multi-row statement.
func (s incStore) insertEarnings(ctx context.Context, ext sqlx.ExtContext, lines []earningRow) error {
	q := qInsertEarning[:strings.Index(qInsertEarning, "VALUES")+len("VALUES ")]
	args := make([]any, 0, len(lines)*18)
	for i, e := range lines {
		if i > 0 {
			q += ", "
		}
		q += "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
		args = append(args, e.CampaignID, e.StaffID, e.PlanID, e.RuleID, e.RuleKind, e.Currency, e.Entry, e.RefID,
			e.CreditID, e.ConversionID, e.PeriodKey, e.UnitID, e.Amount, e.Capped, e.CappedReason, e.OccurredAt, e.HoldUntil, e.CreatedAt)
	}
	if _, err := ext.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("rewards: insert earnings: %w", err)
	}
	return nil
}

func nullID(id int64) sql.NullInt64 { return sql.NullInt64{Int64: id, Valid: id > 0} }

// progressRow is one progress row as read for a run.
type progressRow struct {
	RuleID    string `db:"rule_id"`
	PeriodKey string `db:"period_key"`
	incProgress
}

// progressRows reads (locks, on MySQL) a staff member's progress rows of
// the given rules and periods in one statement; rows of other pairs of a
// rule and a period may come back too.
func (s incStore) progressRows(ctx context.Context, ext sqlx.ExtContext, campaignID, staffID int64, rules, keys []string) ([]progressRow, error) {
	q, args, err := sqlx.In(`SELECT rule_id, period_key, qty, entitled, done FROM incentive_progress
WHERE campaign_id = ? AND staff_id = ? AND rule_id IN (?) AND period_key IN (?)`+s.forUpdate(), campaignID, staffID, rules, keys)
	if err != nil {
		return nil, err
	}
	var rows []progressRow
	if err := sqlx.SelectContext(ctx, ext, &rows, q, args...); err != nil {
		return nil, fmt.Errorf("rewards: progress: %w", err)
	}
	return rows, nil
}

// setProgressRows writes progress rows with one multi-row upsert.
func (s incStore) setProgressRows(ctx context.Context, ext sqlx.ExtContext, campaignID int64, keys []progKey, ps []incProgress) error {
	var q strings.Builder
	q.WriteString(`INSERT INTO incentive_progress (campaign_id, staff_id, rule_id, period_key, qty, entitled, done) VALUES `)
	args := make([]any, 0, len(keys)*7)
	for i, k := range keys {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(?, ?, ?, ?, ?, ?, ?)")
		args = append(args, campaignID, k.staffID, k.rule, k.key, ps[i].Qty, ps[i].Entitled, ps[i].Done)
	}
	q.WriteString(" " + s.dialect.Upsert([]string{"campaign_id", "staff_id", "rule_id", "period_key"}, []string{"qty", "entitled", "done"}))
	if _, err := ext.ExecContext(ctx, q.String(), args...); err != nil {
		return fmt.Errorf("rewards: progress: %w", err)
	}
	return nil
}

// capRow is one cap usage row as read for a run.
type capRow struct {
	Period   string `db:"cap_period"`
	Key      string `db:"period_key"`
	Currency string `db:"currency"`
	Used     int64  `db:"used"`
}

// capRows reads (locks, on MySQL) a staff member's cap usage rows of the
// given periods in one statement.
func (s incStore) capRows(ctx context.Context, ext sqlx.ExtContext, campaignID, staffID int64, periods, keys []string) ([]capRow, error) {
	q, args, err := sqlx.In(`SELECT cap_period, period_key, currency, used FROM incentive_cap_usage
WHERE campaign_id = ? AND staff_id = ? AND cap_period IN (?) AND period_key IN (?)`+s.forUpdate(), campaignID, staffID, periods, keys)
	if err != nil {
		return nil, err
	}
	var rows []capRow
	if err := sqlx.SelectContext(ctx, ext, &rows, q, args...); err != nil {
		return nil, fmt.Errorf("rewards: cap usage: %w", err)
	}
	return rows, nil
}

// setCapRows writes cap usage rows with one multi-row upsert.
func (s incStore) setCapRows(ctx context.Context, ext sqlx.ExtContext, campaignID int64, keys []capKey, used []int64) error {
	var q strings.Builder
	q.WriteString(`INSERT INTO incentive_cap_usage (campaign_id, staff_id, cap_period, period_key, currency, used) VALUES `)
	args := make([]any, 0, len(keys)*6)
	for i, k := range keys {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(?, ?, ?, ?, ?, ?)")
		args = append(args, campaignID, k.staffID, k.period, k.key, k.currency, used[i])
	}
	q.WriteString(" " + s.dialect.Upsert([]string{"campaign_id", "staff_id", "cap_period", "period_key", "currency"}, []string{"used"}))
	if _, err := ext.ExecContext(ctx, q.String(), args...); err != nil {
		return fmt.Errorf("rewards: cap usage: %w", err)
	}
	return nil
}
