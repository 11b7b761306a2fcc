package attribution

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"rmref/internal/apperr"
	"rmref/internal/audit"
	"rmref/internal/auth"
	"rmref/internal/db"
)

// Dispute statuses.
const (
	DisputePending  = "pending"
	DisputeApproved = "approved"
	DisputeRejected = "rejected"
)

// Errors of disputes.
var (
	ErrDisputeNotFound = apperr.NotFoundf("no such dispute")
	ErrOwnProposal     = apperr.Forbiddenf("a dispute must be decided by someone other than its proposer")
	ErrDisputeDecided  = apperr.Conflictf("invalid_transition", "the dispute is already decided")
	ErrNoSuchCredit    = apperr.Conflictf("no_credit", "the staff member holds no credit of this conversion in this campaign")
)

// Dispute is a proposal to move a conversion's credit in one campaign from
// one staff member to another.
type Dispute struct {
	ID           int64      `json:"id,string"`
	ConversionID int64      `json:"conversion_id,string"`
	CampaignID   int64      `json:"campaign_id,string"`
	FromStaffID  int64      `json:"from_staff_id,string"`
	ToStaffID    int64      `json:"to_staff_id,string"`
	Reason       string     `json:"reason"`
	Status       string     `json:"status"`
	ProposedBy   int64      `json:"proposed_by,string"`
	DecidedBy    int64      `json:"decided_by,string,omitempty"`
	DecisionNote string     `json:"decision_note,omitempty"`
	CreatedAt    time.Time  `json:"created_at"`
	DecidedAt    *time.Time `json:"decided_at,omitempty"`
}

// DisputeInput proposes a dispute.
type DisputeInput struct {
	CampaignID  int64  `json:"campaign_id,string"`
	FromStaffID int64  `json:"from_staff_id,string"`
	ToStaffID   int64  `json:"to_staff_id,string"`
	Reason      string `json:"reason"`
}

type disputeRow struct {
	ID           int64          `db:"id"`
	ConversionID int64          `db:"conversion_id"`
	CampaignID   int64          `db:"campaign_id"`
	FromStaffID  int64          `db:"from_staff_id"`
	ToStaffID    int64          `db:"to_staff_id"`
	Reason       string         `db:"reason"`
	Status       string         `db:"status"`
	ProposedBy   int64          `db:"proposed_by"`
	DecidedBy    int64          `db:"decided_by"`
	DecisionNote string         `db:"decision_note"`
	CreatedAt    int64          `db:"created_at"`
	DecidedAt    db.NullInstant `db:"decided_at"`
}

func (r disputeRow) dispute() Dispute {
	d := Dispute{ID: r.ID, ConversionID: r.ConversionID, CampaignID: r.CampaignID, FromStaffID: r.FromStaffID, ToStaffID: r.ToStaffID,
		Reason: r.Reason, Status: r.Status, ProposedBy: r.ProposedBy, DecidedBy: r.DecidedBy, DecisionNote: r.DecisionNote, CreatedAt: db.FromMicros(r.CreatedAt)}
	if !r.DecidedAt.IsZero() {
		t := r.DecidedAt.Time
		d.DecidedAt = &t
	}
	return d
}

const disputeCols = `id, conversion_id, campaign_id, from_staff_id, to_staff_id, reason, status, proposed_by, decided_by, decision_note, created_at, decided_at`

func (s Store) disputes(ctx context.Context, ext sqlx.ExtContext, convID, campaignID int64) ([]Dispute, error) {
	var rows []disputeRow
	if err := sqlx.SelectContext(ctx, ext, &rows, `SELECT `+disputeCols+` FROM attribution_disputes WHERE conversion_id = ? AND campaign_id = ? ORDER BY id`, convID, campaignID); err != nil {
		return nil, fmt.Errorf("attribution: disputes: %w", err)
	}
	out := make([]Dispute, len(rows))
	for i, r := range rows {
		out[i] = r.dispute()
	}
	return out, nil
}

// Move is an approved dispute applied to a decision.
type Move struct {
	DisputeID   int64 `json:"dispute_id,string"`
	FromStaffID int64 `json:"from_staff_id,string"`
	ToStaffID   int64 `json:"to_staff_id,string"`
}

func (s Store) approvedMoves(ctx context.Context, ext sqlx.ExtContext, convID, campaignID int64) ([]Move, error) {
	var out []Move
	ds, err := s.disputes(ctx, ext, convID, campaignID)
	for _, d := range ds {
		if d.Status == DisputeApproved {
			out = append(out, Move{DisputeID: d.ID, FromStaffID: d.FromStaffID, ToStaffID: d.ToStaffID})
		}
	}
	return out, err
}

// applyMoves moves credits as approved disputes say: the from staff
// member's credit goes to the to staff member (summed with theirs), with
// the to staff member's org chain at the conversion time.
func (s *Service) applyMoves(ctx context.Context, ext sqlx.ExtContext, res Result, moves []Move, at time.Time) (Result, error) {
	for _, m := range moves {
		i := creditIndex(res.Credits, m.FromStaffID)
		if i < 0 {
			continue
		}
		moved := res.Credits[i]
		res.Credits = append(res.Credits[:i:i], res.Credits[i+1:]...)
		if j := creditIndex(res.Credits, m.ToStaffID); j >= 0 {
			res.Credits[j].Weight += moved.Weight
			res.Credits[j].CreditedFen += moved.CreditedFen
		} else {
			st, err := s.Directory.StaffAt(ctx, ext, []int64{m.ToStaffID}, at)
			if err != nil {
				return res, err
			}
			to := st[m.ToStaffID]
			moved.StaffID, moved.EmployeeNo, moved.Chain = m.ToStaffID, to.EmployeeNo, to.Chain
			res.Credits = append(res.Credits, moved)
		}
		res.Moves = append(res.Moves, m)
	}
	return res, nil
}

func creditIndex(cs []Credit, staffID int64) int {
	for i, c := range cs {
		if c.StaffID == staffID {
			return i
		}
	}
	return -1
}

// Propose records a manager's (or hq_admin's) proposal to move credit.
func (s *Service) Propose(ctx context.Context, p auth.Principal, convID int64, in DisputeInput) (Dispute, error) {
	var c apperr.Collector
	c.Check(in.CampaignID <= 0, "campaign_id", "is required")
	c.Check(in.FromStaffID <= 0, "from_staff_id", "is required")
	c.Check(in.ToStaffID <= 0 || in.ToStaffID == in.FromStaffID, "to_staff_id", "is required and differs from from_staff_id")
	c.Check(strings.TrimSpace(in.Reason) == "" || len(in.Reason) > 500, "reason", "is required (at most 500 bytes)")
	if err := c.Err(); err != nil {
		return Dispute{}, err
	}
	now := s.Clock.Now()
	var id int64
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := s.visible(ctx, tx, p, convID); err != nil {
			return err
		}
		var err error
		id, err = s.proposeTx(ctx, tx, p, convID, in, now)
		return err
	})
	if err != nil {
		return Dispute{}, err
	}
	return s.dispute(ctx, s.DB, id)
}

func (s *Service) proposeTx(ctx context.Context, tx *sqlx.Tx, p auth.Principal, convID int64, in DisputeInput, now time.Time) (int64, error) {
	crs, err := s.Store.credits(ctx, tx, convID, in.CampaignID)
	if err != nil {
		return 0, err
	}
	if !holds(crs, in.FromStaffID) {
		return 0, ErrNoSuchCredit
	}
	conv, err := s.Store.conversionByID(ctx, tx, convID, false)
	if err != nil {
		return 0, fmt.Errorf("attribution: dispute conversion: %w", err)
	}
	st, err := s.Directory.StaffAt(ctx, tx, []int64{in.ToStaffID}, db.FromMicros(conv.OccurredAt))
	if err != nil {
		return 0, err
	}
	if _, ok := st[in.ToStaffID]; !ok {
		return 0, apperr.Field("to_staff_id", "no such staff member")
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO attribution_disputes (conversion_id, campaign_id, from_staff_id, to_staff_id, reason, status, proposed_by, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, convID, in.CampaignID, in.FromStaffID, in.ToStaffID, in.Reason, DisputePending, p.StaffID, db.Micros(now))
	if err != nil {
		return 0, fmt.Errorf("attribution: insert dispute: %w", err)
	}
	id, _ := res.LastInsertId()
	return id, audit.Record(ctx, tx, audit.Entry{At: now, Actor: p.Actor(), Action: "dispute.propose", EntityType: "attribution_dispute",
		EntityID: strconv.FormatInt(id, 10), Detail: in})
}

func holds(crs []creditRow, staffID int64) bool {
	for _, c := range crs {
		if c.StaffID == staffID && c.Kind == "attribution" {
			return true
		}
	}
	return false
}

// Decide approves or rejects a pending dispute. Only an hq_admin other
// than the proposer may; an approval re-attributes the conversion (or,
// once the campaign is frozen, records an adjustment).
func (s *Service) Decide(ctx context.Context, p auth.Principal, id int64, approve bool, note string) (Dispute, error) {
	if !p.Has(auth.RoleHQAdmin) {
		return Dispute{}, apperr.Forbiddenf("only an hq_admin decides disputes")
	}
	if len(note) > 500 {
		return Dispute{}, apperr.Field("note", "must be at most 500 bytes")
	}
	now := s.Clock.Now()
	err := s.inTx(ctx, func(tx *sqlx.Tx) error { return s.decideTx(ctx, tx, p, id, approve, note, now) })
	if err != nil {
		return Dispute{}, err
	}
	return s.dispute(ctx, s.DB, id)
}

func (s *Service) decideTx(ctx context.Context, tx *sqlx.Tx, p auth.Principal, id int64, approve bool, note string, now time.Time) error {
	d, err := s.dispute(ctx, tx, id)
	if err != nil {
		return err
	}
	switch {
	case d.ProposedBy == p.StaffID:
		return ErrOwnProposal
	case d.Status != DisputePending:
		return ErrDisputeDecided
	}
	status := DisputeRejected
	if approve {
		status = DisputeApproved
	}
	res, err := tx.ExecContext(ctx, `UPDATE attribution_disputes SET status = ?, decided_by = ?, decision_note = ?, decided_at = ? WHERE id = ? AND status = ?`,
		status, p.StaffID, note, db.Micros(now), id, DisputePending)
	if err != nil {
		return fmt.Errorf("attribution: decide dispute: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrDisputeDecided
	}
	if err := audit.Record(ctx, tx, audit.Entry{At: now, Actor: p.Actor(), Action: "dispute." + status, EntityType: "attribution_dispute",
		EntityID: strconv.FormatInt(id, 10), Detail: map[string]any{"note": note}}); err != nil {
		return err
	}
	if !approve {
		return nil
	}
	return s.reattributeOne(ctx, tx, d.ConversionID, "dispute", p.Actor(), now)
}

// reattributeOne attributes one conversion again.
func (s *Service) reattributeOne(ctx context.Context, ext sqlx.ExtContext, convID int64, why, actor string, now time.Time) error {
	row, err := s.Store.conversionByID(ctx, ext, convID, false)
	if err != nil {
		return fmt.Errorf("attribution: reattribute %d: %w", convID, err)
	}
	root, err := s.Customers.Store.RootOfID(ctx, ext, row.IdentifierID)
	if err != nil {
		return err
	}
	cl, err := s.Customers.Store.Cluster(ctx, ext, root)
	if err != nil {
		return err
	}
	return s.attributeConversion(ctx, ext, row, cl, why, actor, now)
}

func (s *Service) dispute(ctx context.Context, ext sqlx.ExtContext, id int64) (Dispute, error) {
	var r disputeRow
	err := sqlx.GetContext(ctx, ext, &r, `SELECT `+disputeCols+` FROM attribution_disputes WHERE id = ?`, id)
	if errors.Is(err, db.ErrNoRows) {
		return Dispute{}, ErrDisputeNotFound
	}
	if err != nil {
		return Dispute{}, fmt.Errorf("attribution: dispute: %w", err)
	}
	return r.dispute(), nil
}

// Adjustment is a change late data would have made to a frozen campaign.
type Adjustment struct {
	ID          int64     `json:"id,string"`
	StaffID     int64     `json:"staff_id,string"`
	Weight      Weight    `json:"weight"`
	CreditedFen int64     `json:"credited_fen"`
	Reason      string    `json:"reason"`
	CreatedAt   time.Time `json:"created_at"`
}

func (s Store) adjustments(ctx context.Context, ext sqlx.ExtContext, convID, campaignID int64) ([]Adjustment, error) {
	var rows []struct {
		ID          int64  `db:"id"`
		StaffID     int64  `db:"staff_id"`
		WeightMicro int64  `db:"weight_micro"`
		CreditedFen int64  `db:"credited_fen"`
		Reason      string `db:"reason"`
		CreatedAt   int64  `db:"created_at"`
	}
	if err := sqlx.SelectContext(ctx, ext, &rows, `SELECT id, staff_id, weight_micro, credited_fen, reason, created_at FROM attribution_adjustments
		WHERE conversion_id = ? AND campaign_id = ? ORDER BY id`, convID, campaignID); err != nil {
		return nil, fmt.Errorf("attribution: adjustments: %w", err)
	}
	out := make([]Adjustment, len(rows))
	for i, r := range rows {
		out[i] = Adjustment{ID: r.ID, StaffID: r.StaffID, Weight: Weight(r.WeightMicro), CreditedFen: r.CreditedFen, Reason: r.Reason, CreatedAt: db.FromMicros(r.CreatedAt)}
	}
	return out, nil
}

// adjust records, per staff member, the difference re-attribution would
// make to a frozen campaign, leaving its credits and rollups untouched.
func (s *Service) adjust(ctx context.Context, ext sqlx.ExtContext, row conversionRow, c Campaign, old, fresh []creditRow, why, actor string, now time.Time) error {
	type delta struct{ w, fen int64 }
	var order []int64
	d := map[int64]*delta{}
	add := func(rows []creditRow, sign int64) {
		for _, r := range rows {
			if d[r.StaffID] == nil {
				d[r.StaffID] = &delta{}
				order = append(order, r.StaffID)
			}
			d[r.StaffID].w += sign * r.WeightMicro
			d[r.StaffID].fen += sign * r.CreditedFen
		}
	}
	add(fresh, 1)
	add(old, -1)
	for _, id := range order {
		if x := d[id]; x.w != 0 || x.fen != 0 {
			if _, err := ext.ExecContext(ctx, `INSERT INTO attribution_adjustments (conversion_id, campaign_id, staff_id, weight_micro, credited_fen, reason, created_at)
				VALUES (?, ?, ?, ?, ?, ?, ?)`, row.ID, c.ID, id, x.w, x.fen, why, db.Micros(now)); err != nil {
				return fmt.Errorf("attribution: adjustment: %w", err)
			}
		}
	}
	return audit.Record(ctx, ext, audit.Entry{At: now, Actor: actor, Action: "attribution.adjustment", EntityType: "conversion",
		EntityID: strconv.FormatInt(row.ID, 10), Detail: map[string]any{"campaign_id": strconv.FormatInt(c.ID, 10), "reason": why}})
}
