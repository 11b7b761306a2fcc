package rewards

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"rmref/internal/auth"
	"rmref/internal/db"
)

// Earning states, derived from the clock: a line is pending until its
// holding period ends (HoldUntil), approved from then, settled once its
// settlement batch is approved, and cancelled once reversals have taken
// all of it back inside the holding period.
const (
	StatePending   = "pending"
	StateApproved  = "approved"
	StateSettled   = "settled"
	StateCancelled = "cancelled"
)

// Earning is one ledger line as of an instant. Amount is fen for cash and
// points otherwise; cancel and clawback lines are negative.
type Earning struct {
	ID           int64      `json:"id,string"`
	CampaignID   int64      `json:"campaign_id,string"`
	StaffID      int64      `json:"staff_id,string"`
	PlanID       int64      `json:"plan_id,string"`
	RuleID       string     `json:"rule_id"`
	RuleKind     string     `json:"rule_kind"`
	Currency     string     `json:"currency"`
	Entry        string     `json:"entry"`
	State        string     `json:"state"`
	Amount       int64      `json:"amount"`
	TakenBack    int64      `json:"taken_back"` // by cancels and clawbacks so far
	Capped       int64      `json:"capped"`
	CappedReason string     `json:"capped_reason,omitempty"`
	RefID        int64      `json:"ref_id,string,omitempty"`
	CreditID     int64      `json:"credit_id,string,omitempty"`
	ConversionID int64      `json:"conversion_id,string,omitempty"`
	PeriodKey    string     `json:"period_key,omitempty"`
	UnitID       int64      `json:"unit_id,string,omitempty"`
	OccurredAt   time.Time  `json:"occurred_at"`
	ApprovesAt   time.Time  `json:"approves_at"`
	BatchID      int64      `json:"batch_id,string,omitempty"`
	SettledAt    *time.Time `json:"settled_at"`
	CreatedAt    time.Time  `json:"created_at"`
}

// EarningSummary totals a staff member's (or a campaign's) ledger in one
// campaign as of an instant. Owed is what clawbacks took beyond the
// approved, unsettled balance: it is netted against later earnings, never
// taken from what was settled.
type EarningSummary struct {
	CampaignID       int64  `json:"campaign_id,string"`
	CampaignCode     string `json:"campaign_code"`
	CampaignName     string `json:"campaign_name"`
	PendingFen       int64  `json:"pending_fen"`
	ApprovedFen      int64  `json:"approved_fen"`
	SettledFen       int64  `json:"settled_fen"`
	CancelledFen     int64  `json:"cancelled_fen"`
	ClawedBackFen    int64  `json:"clawed_back_fen"`
	CappedFen        int64  `json:"capped_fen"`
	OwedFen          int64  `json:"owed_fen"`
	PendingPoints    int64  `json:"pending_points"`
	ApprovedPoints   int64  `json:"approved_points"`
	SettledPoints    int64  `json:"settled_points"`
	CancelledPoints  int64  `json:"cancelled_points"`
	ClawedBackPoints int64  `json:"clawed_back_points"`
	CappedPoints     int64  `json:"capped_points"`
	OwedPoints       int64  `json:"owed_points"`
}

type totalsRow struct {
	CampaignID int64  `db:"campaign_id"`
	Code       string `db:"code"`
	Name       string `db:"name"`
	Currency   string `db:"currency"`
	Pending    int64  `db:"pending"`
	Approved   int64  `db:"approved"`
	Settled    int64  `db:"settled"`
	Cancelled  int64  `db:"cancelled"`
	ClawedBack int64  `db:"clawed_back"`
	Capped     int64  `db:"capped"`
}

const qTotals = `SELECT e.campaign_id, c.code, c.name, e.currency,
 COALESCE(SUM(CASE WHEN e.hold_until > ? THEN e.amount ELSE 0 END), 0) AS pending,
 COALESCE(SUM(CASE WHEN e.hold_until <= ? AND (e.settled_at IS NULL OR e.settled_at > ?) THEN e.amount ELSE 0 END), 0) AS approved,
 COALESCE(SUM(CASE WHEN e.settled_at <= ? THEN e.amount ELSE 0 END), 0) AS settled,
 COALESCE(SUM(CASE WHEN e.entry = 'cancel' THEN -e.amount ELSE 0 END), 0) AS cancelled,
 COALESCE(SUM(CASE WHEN e.entry = 'clawback' THEN -e.amount ELSE 0 END), 0) AS clawed_back,
 COALESCE(SUM(e.capped), 0) AS capped
FROM incentive_earnings e JOIN campaigns c ON c.id = e.campaign_id
WHERE e.created_at <= ? AND `

func (s incStore) totals(ctx context.Context, ext sqlx.ExtContext, at time.Time, where string, args ...any) ([]EarningSummary, error) {
	us := db.Micros(at)
	var rows []totalsRow
	q := qTotals + where + ` GROUP BY e.campaign_id, c.code, c.name, e.currency ORDER BY e.campaign_id, e.currency`
	if err := sqlx.SelectContext(ctx, ext, &rows, q, append([]any{us, us, us, us, us}, args...)...); err != nil {
		return nil, fmt.Errorf("rewards: earning totals: %w", err)
	}
	var out []EarningSummary
	for _, r := range rows {
		if len(out) == 0 || out[len(out)-1].CampaignID != r.CampaignID {
			out = append(out, EarningSummary{CampaignID: r.CampaignID, CampaignCode: r.Code, CampaignName: r.Name})
		}
		sum := &out[len(out)-1]
		owed := max(-r.Approved, 0)
		if r.Currency == CurrencyCash {
			sum.PendingFen, sum.ApprovedFen, sum.SettledFen, sum.OwedFen = r.Pending, max(r.Approved, 0), r.Settled, owed
			sum.CancelledFen, sum.ClawedBackFen, sum.CappedFen = r.Cancelled, r.ClawedBack, r.Capped
		} else {
			sum.PendingPoints, sum.ApprovedPoints, sum.SettledPoints, sum.OwedPoints = r.Pending, max(r.Approved, 0), r.Settled, owed
			sum.CancelledPoints, sum.ClawedBackPoints, sum.CappedPoints = r.Cancelled, r.ClawedBack, r.Capped
		}
	}
	return out, nil
}

// EarningFilter selects a staff member's ledger lines.
type EarningFilter struct {
	CampaignID int64     // 0: every campaign
	At         time.Time // zero: now
	BeforeID   int64     // cursor: lines with a smaller id (newest first)
	Limit      int
}

// inScope reports whether p may read staff member staffID's earnings: their
// own, a manager's subtree (by the staff member's current unit), or all.
func (s *Incentives) inScope(ctx context.Context, p auth.Principal, staffID int64) error {
	if p.IsStaff() && p.StaffID == staffID {
		return nil
	}
	prefix, ok := p.ScopePath()
	if !ok {
		return ErrIncentiveEarningScope
	}
	var path string
	err := s.db.GetContext(ctx, &path, `SELECT u.path FROM staff s JOIN org_units u ON u.id = s.unit_id WHERE s.id = ?`, staffID)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrIncentiveEarningScope
	}
	if err != nil {
		return fmt.Errorf("rewards: staff %d: %w", staffID, err)
	}
	if lo, hi := auth.PathRange(prefix); prefix != "" && (path < lo || path >= hi) {
		return ErrIncentiveEarningScope
	}
	return nil
}

// Summaries totals a staff member's earnings per campaign as of at.
func (s *Incentives) Summaries(ctx context.Context, p auth.Principal, staffID int64, at time.Time) ([]EarningSummary, error) {
	if err := s.inScope(ctx, p, staffID); err != nil {
		return nil, err
	}
	return s.st.totals(ctx, s.db, s.atOrNow(at), `e.staff_id = ?`, staffID)
}

func (s *Incentives) atOrNow(at time.Time) time.Time {
	if at.IsZero() {
		return s.clock.Now()
	}
	return at
}

// Earnings lists a staff member's ledger lines known at f.At, newest
// first, each with its state then, its rule and the credit behind it.
func (s *Incentives) Earnings(ctx context.Context, p auth.Principal, staffID int64, f EarningFilter) ([]Earning, error) {
	if err := s.inScope(ctx, p, staffID); err != nil {
		return nil, err
	}
	at := s.atOrNow(f.At)
	q := `SELECT ` + prefixed("e.", earningCols) + `,
 COALESCE((SELECT SUM(-n.amount) FROM incentive_earnings n WHERE n.ref_id = e.id AND n.created_at <= ?), 0) AS back,
 COALESCE((SELECT SUM(-n.amount) FROM incentive_earnings n WHERE n.ref_id = e.id AND n.entry = 'cancel' AND n.created_at <= ?), 0) AS cancelled
FROM incentive_earnings e WHERE e.staff_id = ? AND e.created_at <= ?`
	args := []any{db.Micros(at), db.Micros(at), staffID, db.Micros(at)}
	if f.CampaignID > 0 {
		q += ` AND e.campaign_id = ?`
		args = append(args, f.CampaignID)
	}
	if f.BeforeID > 0 {
		q += ` AND e.id < ?`
		args = append(args, f.BeforeID)
	}
	q += ` ORDER BY e.id DESC LIMIT ?`
	args = append(args, max(f.Limit, 1))
	var rows []struct {
		earningRow
		Back      int64 `db:"back"`
		Cancelled int64 `db:"cancelled"`
	}
	if err := s.db.SelectContext(ctx, &rows, q, args...); err != nil {
		return nil, fmt.Errorf("rewards: earnings: %w", err)
	}
	out := make([]Earning, len(rows))
	for i, r := range rows {
		out[i] = r.earning(at, r.Back, r.Cancelled)
	}
	return out, nil
}

func (r earningRow) earning(at time.Time, back, cancelled int64) Earning {
	e := Earning{ID: r.ID, CampaignID: r.CampaignID, StaffID: r.StaffID, PlanID: r.PlanID, RuleID: r.RuleID, RuleKind: r.RuleKind,
		Currency: r.Currency, Entry: r.Entry, Amount: r.Amount, TakenBack: back, Capped: r.Capped, CappedReason: r.CappedReason,
		RefID: r.RefID.Int64, CreditID: r.CreditID.Int64, ConversionID: r.ConversionID.Int64, PeriodKey: r.PeriodKey, UnitID: r.UnitID.Int64,
		OccurredAt: db.FromMicros(r.OccurredAt), ApprovesAt: db.FromMicros(r.HoldUntil), BatchID: r.BatchID.Int64, CreatedAt: db.FromMicros(r.CreatedAt)}
	us := db.Micros(at)
	switch {
	case r.SettledAt.Valid && r.SettledAt.Int64 <= us:
		t := db.FromMicros(r.SettledAt.Int64)
		e.SettledAt, e.State = &t, StateSettled
	case r.Entry == EntryCancel || (r.Entry == EntryEarning && r.Amount > 0 && cancelled >= r.Amount):
		e.State = StateCancelled
	case r.HoldUntil <= us:
		e.State = StateApproved
	default:
		e.State = StatePending
	}
	return e
}

// CampaignSummary is a campaign's incentive totals with its budget.
type CampaignSummary struct {
	EarningSummary
	BudgetFen *int64 `json:"budget_fen"`
	UsedFen   int64  `json:"used_fen"`
	LeftFen   *int64 `json:"left_fen"`
}

// CampaignSummary totals a campaign's earnings as of at, with the budget
// used and left (now).
func (s *Incentives) CampaignSummary(ctx context.Context, p auth.Principal, campaignID int64, at time.Time) (CampaignSummary, error) {
	if !canReadPlans(p) {
		return CampaignSummary{}, ErrIncentiveCampaign
	}
	camp, err := s.st.campaign(ctx, s.db, campaignID)
	if err != nil {
		return CampaignSummary{}, err
	}
	out := CampaignSummary{EarningSummary: EarningSummary{CampaignID: camp.ID, CampaignCode: camp.Code, CampaignName: camp.Name}}
	sums, err := s.st.totals(ctx, s.db, s.atOrNow(at), `e.campaign_id = ?`, campaignID)
	if err != nil {
		return out, err
	}
	if len(sums) == 1 {
		out.EarningSummary = sums[0]
	}
	b, ok, err := s.st.lockBudget(ctx, s.db, campaignID)
	if err != nil || !ok {
		return out, err
	}
	out.UsedFen = b.UsedFen
	if b.BudgetFen >= 0 {
		left := b.left()
		out.BudgetFen, out.LeftFen = &b.BudgetFen, &left
	}
	return out, nil
}

// CampaignLocation returns a campaign's time zone (for `at=` dates).
func (s *Incentives) CampaignLocation(ctx context.Context, campaignID int64) (*time.Location, error) {
	c, err := s.st.campaign(ctx, s.db, campaignID)
	if err != nil {
		return nil, err
	}
	return c.loc, nil
}
