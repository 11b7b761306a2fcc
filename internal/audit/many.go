package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"

	"rmref/internal/db"
)

// manyBatch is the number of entries per multi-row insert.
const manyBatch = 500

// RecordMany writes many entries in multi-row statements, for bulk changes
// such as an HR import (pass the transaction that makes the changes).
func RecordMany(ctx context.Context, ext sqlx.ExtContext, es []Entry) error {
	for len(es) > 0 {
		n := min(len(es), manyBatch)
		if err := recordBatch(ctx, ext, es[:n]); err != nil {
			return err
		}
		es = es[n:]
	}
	return nil
}

func recordBatch(ctx context.Context, ext sqlx.ExtContext, es []Entry) error {
	args := make([]any, 0, len(es)*7)
	for _, e := range es {
		detail := ""
		if e.Detail != nil {
			b, err := json.Marshal(e.Detail)
			if err != nil {
				return fmt.Errorf("audit: encode detail: %w", err)
			}
			detail = string(b)
		}
		if e.RequestID == "" {
			e.RequestID = RequestID(ctx)
		}
		args = append(args, db.Micros(e.At), e.Actor, e.Action, e.EntityType, e.EntityID, detail, e.RequestID)
	}
	rows := strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?), ", len(es)), ", ")
	_, err := ext.ExecContext(ctx, `INSERT INTO audit_log (at, actor, action, entity_type, entity_id, detail, request_id) VALUES `+rows, args...)
	if err != nil {
		return fmt.Errorf("audit: record %d entries: %w", len(es), err)
	}
	return nil
}
