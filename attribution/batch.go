package attribution

import (
	"context"

	"github.com/jmoiron/sqlx"

	"rmref/customer"
	"rmref/internal/apperr"
)

// MaxBatch is the most items one batch request may carry.
const MaxBatch = 1000

// ItemResult is one item's outcome in a batch: Status is the HTTP status
// the item would have had alone, with the conversion (or touch) or error.
type ItemResult[T any] struct {
	Index  int   `json:"index"`
	Status int   `json:"status"`
	Item   *T    `json:"item,omitempty"`
	Err    error `json:"-"`
}

// CheckBatch refuses an empty or oversized batch.
func CheckBatch(n int) error {
	if n == 0 || n > MaxBatch {
		return apperr.Field("items", "must hold 1 to 1000 items")
	}
	return nil
}

// BatchItem is one item of a batch as decoded: the input, or the error
// that refused it at decoding (it then fails alone).
type BatchItem[T any] struct {
	In  T
	Err error
}

// RecordBatch records each conversion in its own transaction: one bad item
// never poisons the others, and no item is half-written.
func (s *Service) RecordBatch(ctx context.Context, items []BatchItem[ConversionInput], actor string) []ItemResult[ConversionView] {
	out := make([]ItemResult[ConversionView], len(items))
	for i, it := range items {
		if it.Err != nil {
			out[i] = ItemResult[ConversionView]{Index: i, Err: it.Err}
			continue
		}
		v, created, err := s.Record(ctx, it.In, actor)
		out[i] = itemResult(i, v, created, err)
	}
	return out
}

// RecordTouchBatch records each touch in its own transaction.
func (s *Service) RecordTouchBatch(ctx context.Context, items []BatchItem[TouchInput], actor string) []ItemResult[TouchView] {
	out := make([]ItemResult[TouchView], len(items))
	for i, it := range items {
		if it.Err != nil {
			out[i] = ItemResult[TouchView]{Index: i, Err: it.Err}
			continue
		}
		v, created, err := s.RecordTouch(ctx, it.In, actor)
		out[i] = itemResult(i, v, created, err)
	}
	return out
}

func itemResult[T any](i int, v T, created bool, err error) ItemResult[T] {
	if err != nil {
		return ItemResult[T]{Index: i, Err: err}
	}
	status := 200
	if created {
		status = 201
	}
	return ItemResult[T]{Index: i, Status: status, Item: &v}
}

// Outcome is what recording one conversion came to, without its view.
type Outcome struct {
	Created bool  // false: already present (same key and payload)
	Err     error // the item's own failure
}

// pending is a conversion input checked and normalised, ready to store.
type pending struct {
	i   int
	row conversionRow
	ids []customer.Identifier
}

// RecordMany records conversions with the outcome Record would give each
// in turn, but in one transaction for all of them (for bulk imports, where
// one commit per row dominates): inputs that fail checks fail alone, keys
// already stored are answered by one read, and the rest are written in
// order in one transaction. When any of them fails there, the transaction
// is rolled back and each of those is recorded alone with Record, so one
// bad item never poisons the others and none is half-written.
func (s *Service) RecordMany(ctx context.Context, ins []ConversionInput, actor string) []Outcome {
	out := make([]Outcome, len(ins))
	now := s.Clock.Now()
	var todo []pending
	for i, in := range ins {
		p, err := s.prepare(in, now)
		if err != nil {
			out[i].Err = err
			continue
		}
		p.i = i
		todo = append(todo, p)
	}
	stored, err := s.Store.conversionKeys(ctx, s.DB, todo)
	if err != nil {
		stored = nil // answered item by item below
	}
	group := todo[:0:0]
	for _, p := range todo {
		if hash, ok := stored[[2]string{p.row.Source, p.row.ExternalID}]; ok && err == nil {
			if hash != p.row.PayloadHash {
				out[p.i].Err = ErrKeyReused
			}
			continue
		}
		group = append(group, p)
	}
	if len(group) == 0 {
		return out
	}
	if err == nil {
		err = s.withTx(ctx, func(tx *sqlx.Tx) error {
			ext := s.ext(tx)
			for _, p := range group {
				if _, _, err := s.recordTx(ctx, ext, p.row, p.ids, actor, now); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err == nil {
		for _, p := range group {
			out[p.i].Created = true
		}
		return out
	}
	for _, p := range group {
		_, out[p.i].Created, out[p.i].Err = s.Record(ctx, ins[p.i], actor)
	}
	return out
}
