package attribution

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"

	"rmref/internal/apperr"
	"rmref/internal/audit"
	"rmref/internal/db"
)

// ReversalInput reverses all or part of a conversion (a card cancelled, a
// product redeemed early). ExternalID makes it idempotent.
type ReversalInput struct {
	ExternalID string     `json:"external_id"`
	AmountFen  *int64     `json:"amount_fen"` // nil: everything not yet reversed
	Reason     string     `json:"reason"`
	OccurredAt *time.Time `json:"occurred_at"` // nil: now
}

type reversalRow struct {
	ID           int64  `db:"id"`
	ConversionID int64  `db:"conversion_id"`
	ExternalID   string `db:"external_id"`
	PayloadHash  string `db:"payload_hash"`
	AmountFen    int64  `db:"amount_fen"`
	Reason       string `db:"reason"`
	OccurredAt   int64  `db:"occurred_at"`
	CreatedAt    int64  `db:"created_at"`
}

const reversalCols = `id, conversion_id, external_id, payload_hash, amount_fen, reason, occurred_at, created_at`

func (s Store) reversals(ctx context.Context, ext sqlx.ExtContext, convID int64) ([]reversalRow, error) {
	var rows []reversalRow
	if err := sqlx.SelectContext(ctx, ext, &rows, `SELECT `+reversalCols+` FROM conversion_reversals WHERE conversion_id = ? ORDER BY id`, convID); err != nil {
		return nil, fmt.Errorf("attribution: reversals: %w", err)
	}
	return rows, nil
}

func (s Store) insertReversal(ctx context.Context, ext sqlx.ExtContext, r reversalRow) (int64, error) {
	res, err := ext.ExecContext(ctx, `INSERT INTO conversion_reversals (conversion_id, external_id, payload_hash, amount_fen, reason, occurred_at, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, r.ConversionID, r.ExternalID, r.PayloadHash, r.AmountFen, r.Reason, r.OccurredAt, r.CreatedAt)
	if s.Dialect.IsUniqueViolation(err) {
		return 0, errRaced
	}
	if err != nil {
		return 0, fmt.Errorf("attribution: insert reversal: %w", err)
	}
	if _, err := ext.ExecContext(ctx, `UPDATE conversions SET reversed_fen = reversed_fen + ? WHERE id = ?`, r.AmountFen, r.ConversionID); err != nil {
		return 0, fmt.Errorf("attribution: reversed amount: %w", err)
	}
	return res.LastInsertId()
}

// Reverse records a reversal of conversion id and gives every credit its
// negative share, in proportion and never below zero. A repeat of the same
// external id and payload returns the conversion unchanged.
func (s *Service) Reverse(ctx context.Context, id int64, in ReversalInput, actor string) (ConversionView, error) {
	var c apperr.Collector
	c.Check(!keyRe.MatchString(in.ExternalID), "external_id", "must be 1 to 128 printable ASCII characters")
	c.Check(in.AmountFen != nil && *in.AmountFen <= 0, "amount_fen", "must be an integer > 0")
	c.Check(len(in.Reason) > 255, "reason", "must be at most 255 bytes")
	if err := c.Err(); err != nil {
		return ConversionView{}, err
	}
	now := s.Clock.Now()
	at := now
	if in.OccurredAt != nil {
		at = in.OccurredAt.UTC()
	}
	if err := checkFuture(at, now); err != nil {
		return ConversionView{}, err
	}
	err := s.inTx(ctx, func(tx *sqlx.Tx) error { return s.reverseTx(ctx, tx, id, in, at, actor, now) })
	if err != nil {
		return ConversionView{}, err
	}
	return s.view(ctx, s.DB, id)
}

func (s *Service) reverseTx(ctx context.Context, tx *sqlx.Tx, id int64, in ReversalInput, at time.Time, actor string, now time.Time) error {
	conv, err := s.Store.conversionByID(ctx, tx, id, true)
	if errors.Is(err, db.ErrNoRows) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("attribution: reversal: %w", err)
	}
	given := int64(0) // the payload as sent: a repeat without occurred_at is the same request later
	if in.OccurredAt != nil {
		given = in.OccurredAt.UnixMicro()
	}
	hash := payloadHash([]any{in.AmountFen, in.Reason, given})
	if done, err := s.reversalDone(ctx, tx, id, in.ExternalID, hash); done || err != nil {
		return err
	}
	left := conv.AmountFen - conv.ReversedFen
	amount := left
	if in.AmountFen != nil {
		amount = *in.AmountFen
	}
	switch {
	case left == 0 && conv.AmountFen > 0:
		return ErrNothingToRevert
	case amount > left:
		return ErrReversalTooBig
	}
	r := reversalRow{ConversionID: id, ExternalID: in.ExternalID, PayloadHash: hash, AmountFen: amount, Reason: in.Reason, OccurredAt: db.Micros(at), CreatedAt: db.Micros(now)}
	if r.ID, err = s.Store.insertReversal(ctx, tx, r); err != nil {
		return err
	}
	if err := s.applyReversal(ctx, tx, conv, r, now); err != nil {
		return err
	}
	return audit.Record(ctx, tx, audit.Entry{At: now, Actor: actor, Action: "conversion.reverse", EntityType: "conversion",
		EntityID: strconv.FormatInt(id, 10), Detail: map[string]any{"external_id": in.ExternalID, "amount_fen": amount, "reason": in.Reason}})
}

// reversalDone reports whether the reversal key was already used: with the
// same payload it is done; with another it is ErrKeyReused.
func (s *Service) reversalDone(ctx context.Context, ext sqlx.ExtContext, convID int64, key, hash string) (bool, error) {
	var got string
	err := sqlx.GetContext(ctx, ext, &got, `SELECT payload_hash FROM conversion_reversals WHERE conversion_id = ? AND external_id = ?`, convID, key)
	switch {
	case errors.Is(err, db.ErrNoRows):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("attribution: reversal by key: %w", err)
	case got != hash:
		return true, ErrKeyReused
	}
	return true, nil
}

// applyReversal adds the reversal's negative credits in every campaign
// the conversion is credited in.
func (s *Service) applyReversal(ctx context.Context, ext sqlx.ExtContext, conv conversionRow, r reversalRow, now time.Time) error {
	atts, err := s.Store.attributions(ctx, ext, conv.ID)
	if err != nil {
		return err
	}
	for _, a := range atts {
		cur, err := s.Store.credits(ctx, ext, conv.ID, a.CampaignID)
		if err != nil {
			return err
		}
		if err := s.Store.insertCredits(ctx, ext, reversalRows(cur, r, conv.AmountFen, now)); err != nil {
			return err
		}
	}
	return s.notify(ctx, ext, conv.ID)
}

// reversalRows splits a reversal over the staff members' net credits:
// fen in proportion to their net fen, weight (the reversed fraction of the
// conversion) in proportion to their net weight, each by largest
// remainder and never below zero.
func reversalRows(cur []creditRow, r reversalRow, amount int64, now time.Time) []creditRow {
	var order []int64
	first := map[int64]creditRow{}
	fen, wt := map[int64]int64{}, map[int64]int64{}
	var reversedBefore int64
	for _, c := range cur {
		if _, ok := first[c.StaffID]; !ok {
			first[c.StaffID] = c
			order = append(order, c.StaffID)
		}
		fen[c.StaffID] += c.CreditedFen
		wt[c.StaffID] += c.WeightMicro
		if c.Kind == "reversal" && c.ReversalID != r.ID {
			reversedBefore -= c.CreditedFen
		}
	}
	fenNet, wtNet := make([]int64, len(order)), make([]int64, len(order))
	for i, id := range order {
		fenNet[i], wtNet[i] = fen[id], wt[id]
	}
	wr := reversedWeight(wtNet, r.AmountFen, amount, reversedBefore)
	fenCut, wtCut := proportional(fenNet, r.AmountFen), proportional(wtNet, wr)
	var out []creditRow
	for i, id := range order {
		if fenCut[i] == 0 && wtCut[i] == 0 {
			continue
		}
		c := first[id]
		c.ID, c.Kind, c.ReversalID, c.CreatedAt = 0, "reversal", r.ID, db.Micros(now)
		c.CreditedFen, c.WeightMicro = -fenCut[i], -wtCut[i]
		out = append(out, c)
	}
	return out
}

// reversedWeight is the weight a reversal removes: the reversed fraction
// of the amount, all that is left when the conversion is fully reversed.
func reversedWeight(wtNet []int64, rev, amount, reversedBefore int64) int64 {
	var left int64
	for _, w := range wtNet {
		left += w
	}
	if amount == 0 || reversedBefore+rev >= amount {
		return left
	}
	return min(left, int64(WeightOne)*rev/amount)
}

// proportional splits total over parts in proportion to them (largest
// remainder, ties to the earlier part); no part gets more than it has.
func proportional(parts []int64, total int64) []int64 {
	var sum int64
	for _, p := range parts {
		sum += max(p, 0)
	}
	if sum == 0 || total <= 0 {
		return make([]int64, len(parts))
	}
	total = min(total, sum)
	shares := make([]*big.Rat, len(parts))
	for i, p := range parts {
		shares[i] = big.NewRat(max(p, 0), sum)
	}
	return largestRemainder(shares, total)
}
