package rewards

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"

	"rmref/internal/apperr"
	"rmref/internal/audit"
	"rmref/internal/auth"
	"rmref/internal/db"
)

// Settlement batches hand approved earnings to payroll. A batch for a
// campaign and a month holds every line approved by the end of that month
// and not yet in a batch, netted per staff member and currency. Proposing
// is idempotent: while a batch of the period is proposed, or when nothing
// new is due after an approved one, the existing batch is returned. One
// hq_admin proposes, another approves; an approved batch is immutable and
// later corrections (clawbacks, late lines) go into the next batch.

// Batch statuses.
const (
	BatchProposed = "proposed"
	BatchApproved = "approved"
	BatchRejected = "rejected"
)

// Errors of settlement.
var (
	ErrBatchNotFound     = apperr.NotFoundf("no such settlement batch")
	ErrBatchSelfApproval = apperr.Conflictf("self_approval", "nobody approves their own proposal")
	ErrBatchNotProposed  = apperr.Conflictf("invalid_transition", "only a proposed batch can be approved or rejected")
	ErrPeriodOpen        = apperr.Conflictf("period_open", "the period has not ended yet")
)

// SettlementBatch is one batch.
type SettlementBatch struct {
	ID         int64      `json:"id,string"`
	CampaignID int64      `json:"campaign_id,string"`
	Period     string     `json:"period"`
	Seq        int        `json:"seq"`
	Status     string     `json:"status"`
	CutoffAt   time.Time  `json:"cutoff_at"`
	ProposedBy int64      `json:"proposed_by,string"`
	ProposedAt time.Time  `json:"proposed_at"`
	DecidedBy  int64      `json:"decided_by,string,omitempty"`
	DecidedAt  *time.Time `json:"decided_at"`
	CashFen    int64      `json:"cash_fen"`
	Points     int64      `json:"points"`
	StaffCount int        `json:"staff_count"`
}

// SettlementLine is what one staff member is paid in a batch. Clawbacks
// are already netted into CashFen and Points; Owed* is what clawbacks took
// beyond the member's earnings, kept out of the batch and carried forward.
type SettlementLine struct {
	StaffID        int64  `json:"staff_id,string" db:"staff_id"`
	EmployeeNo     string `json:"employee_no" db:"employee_no"`
	Name           string `json:"name" db:"name"`
	UnitPath       string `json:"unit_path" db:"unit_path"`
	CashFen        int64  `json:"cash_fen" db:"cash_fen"`
	Points         int64  `json:"points" db:"points"`
	ClawbackFen    int64  `json:"clawback_fen" db:"clawback_fen"`
	ClawbackPoints int64  `json:"clawback_points" db:"clawback_points"`
	OwedFen        int64  `json:"owed_fen" db:"owed_fen"`
	OwedPoints     int64  `json:"owed_points" db:"owed_points"`
	Lines          int    `json:"lines" db:"line_count"`
}

type batchRow struct {
	ID         int64         `db:"id"`
	CampaignID int64         `db:"campaign_id"`
	Period     string        `db:"period"`
	Seq        int           `db:"seq"`
	Status     string        `db:"status"`
	CutoffAt   int64         `db:"cutoff_at"`
	ProposedBy int64         `db:"proposed_by"`
	ProposedAt int64         `db:"proposed_at"`
	DecidedBy  sql.NullInt64 `db:"decided_by"`
	DecidedAt  sql.NullInt64 `db:"decided_at"`
	CashFen    int64         `db:"cash_fen"`
	Points     int64         `db:"points"`
	StaffCount int           `db:"staff_count"`
}

func (r batchRow) batch() SettlementBatch {
	b := SettlementBatch{ID: r.ID, CampaignID: r.CampaignID, Period: r.Period, Seq: r.Seq, Status: r.Status, CutoffAt: db.FromMicros(r.CutoffAt),
		ProposedBy: r.ProposedBy, ProposedAt: db.FromMicros(r.ProposedAt), DecidedBy: r.DecidedBy.Int64, CashFen: r.CashFen, Points: r.Points, StaffCount: r.StaffCount}
	if r.DecidedAt.Valid {
		t := db.FromMicros(r.DecidedAt.Int64)
		b.DecidedAt = &t
	}
	return b
}

const batchCols = `id, campaign_id, period, seq, status, cutoff_at, proposed_by, proposed_at, decided_by, decided_at, cash_fen, points, staff_count`

func canSettle(p auth.Principal) bool { return p.IsStaff() && p.Has(auth.RoleHQAdmin) }

// ValidPeriod checks a YYYY-MM settlement period.
func ValidPeriod(period string) error {
	if _, err := time.Parse("2006-01", period); err != nil || len(period) != 7 {
		return apperr.Field("period", "must be a month, YYYY-MM")
	}
	return nil
}

// ProposeSettlement creates (or returns) the batch of a campaign's month.
// created reports whether a new batch was made. It first distributes the
// month's unit pools (once).
func (s *Incentives) ProposeSettlement(ctx context.Context, p auth.Principal, campaignID int64, period string) (SettlementBatch, bool, error) {
	if !canSettle(p) {
		return SettlementBatch{}, false, apperr.Forbiddenf("only an hq_admin proposes settlement batches")
	}
	if err := ValidPeriod(period); err != nil {
		return SettlementBatch{}, false, err
	}
	var out SettlementBatch
	var created bool
	err := s.db.WithTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		out, created, err = s.proposeTx(ctx, tx, p, campaignID, period)
		return err
	})
	return out, created, err
}

func (s *Incentives) proposeTx(ctx context.Context, tx *sqlx.Tx, p auth.Principal, campaignID int64, period string) (SettlementBatch, bool, error) {
	camp, err := s.st.campaign(ctx, tx, campaignID)
	if err != nil {
		return SettlementBatch{}, false, apperr.Field("campaign_id", "no such campaign")
	}
	_, end, _ := monthBounds(period, camp.loc)
	now := s.clock.Now()
	if now.Before(end) {
		return SettlementBatch{}, false, ErrPeriodOpen
	}
	run, ok, err := s.openRun(ctx, tx, campaignID)
	if err != nil {
		return SettlementBatch{}, false, err
	}
	if ok {
		if err := s.distributePools(ctx, tx, run, period); err != nil {
			return SettlementBatch{}, false, err
		}
	}
	prev, err := s.st.batches(ctx, tx, `campaign_id = ? AND period = ? AND status <> 'rejected' ORDER BY seq DESC`, campaignID, period)
	if err != nil {
		return SettlementBatch{}, false, err
	}
	if len(prev) > 0 && prev[0].Status == BatchProposed {
		return prev[0], false, nil
	}
	if len(prev) > 0 {
		due, err := s.st.anyDue(ctx, tx, campaignID, end, now)
		if err != nil {
			return SettlementBatch{}, false, err
		}
		if !due {
			return prev[0], false, nil
		}
	}
	b, err := s.st.createBatch(ctx, tx, camp, period, end, p.StaffID, now)
	if err != nil {
		return b, false, err
	}
	return b, true, audit.Record(ctx, tx, audit.Entry{At: now, Actor: p.Actor(), Action: "settlement.propose", EntityType: "settlement_batch",
		EntityID: strconv.FormatInt(b.ID, 10), Detail: b})
}

// ApproveSettlement approves a proposed batch (by another hq_admin): its
// lines are settled from now on, and the batch never changes again.
func (s *Incentives) ApproveSettlement(ctx context.Context, p auth.Principal, id int64) (SettlementBatch, error) {
	return s.decideBatch(ctx, p, id, BatchApproved)
}

// RejectSettlement rejects a proposed batch and releases its lines for a
// later batch.
func (s *Incentives) RejectSettlement(ctx context.Context, p auth.Principal, id int64) (SettlementBatch, error) {
	return s.decideBatch(ctx, p, id, BatchRejected)
}

func (s *Incentives) decideBatch(ctx context.Context, p auth.Principal, id int64, status string) (SettlementBatch, error) {
	if !p.ReadsAll() {
		return SettlementBatch{}, ErrBatchNotFound
	}
	if !canSettle(p) {
		return SettlementBatch{}, apperr.Forbiddenf("only an hq_admin decides settlement batches")
	}
	var out SettlementBatch
	err := s.db.WithTx(ctx, func(tx *sqlx.Tx) error {
		b, err := s.st.batch(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if b.Status != BatchProposed {
			return ErrBatchNotProposed
		}
		if b.ProposedBy == p.StaffID {
			return ErrBatchSelfApproval
		}
		now := s.clock.Now()
		if err := s.st.decideBatch(ctx, tx, b.CampaignID, id, status, p.StaffID, now); err != nil {
			return err
		}
		if out, err = s.st.batch(ctx, tx, id, false); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{At: now, Actor: p.Actor(), Action: "settlement." + status[:len(status)-1],
			EntityType: "settlement_batch", EntityID: strconv.FormatInt(id, 10), Detail: map[string]any{"cash_fen": b.CashFen, "points": b.Points}})
	})
	return out, err
}

// Batch returns one batch (hq_admin, auditor).
func (s *Incentives) Batch(ctx context.Context, p auth.Principal, id int64) (SettlementBatch, error) {
	if !p.ReadsAll() {
		return SettlementBatch{}, ErrBatchNotFound
	}
	return s.st.batch(ctx, s.db, id, false)
}

// Batches lists a campaign's batches, newest first (hq_admin, auditor).
func (s *Incentives) Batches(ctx context.Context, p auth.Principal, campaignID int64) ([]SettlementBatch, error) {
	if !p.ReadsAll() {
		return nil, apperr.Forbiddenf("only HQ and auditors read settlement batches")
	}
	return s.st.batches(ctx, s.db, `campaign_id = ? ORDER BY id DESC`, campaignID)
}

// EachLine streams a batch's lines in employee-number order to fn, in
// bounded memory.
func (s *Incentives) EachLine(ctx context.Context, p auth.Principal, id int64, fn func(SettlementLine) error) error {
	if _, err := s.Batch(ctx, p, id); err != nil {
		return err
	}
	rows, err := s.db.QueryxContext(ctx, `SELECT staff_id, employee_no, name, unit_path, cash_fen, points, clawback_fen, clawback_points,
owed_fen, owed_points, line_count FROM settlement_lines WHERE batch_id = ? ORDER BY employee_no`, id)
	if err != nil {
		return fmt.Errorf("rewards: batch lines: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var l SettlementLine
		if err := rows.StructScan(&l); err != nil {
			return fmt.Errorf("rewards: batch line: %w", err)
		}
		if err := fn(l); err != nil {
			return err
		}
	}
	return rows.Err()
}
