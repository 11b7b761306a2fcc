package attribution

import (
	"context"

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
