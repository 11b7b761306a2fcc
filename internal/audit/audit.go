// Package audit records who changed what, when: every change to org,
// roles, clients, campaigns and rules writes one entry in the same
// transaction as the change.
package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"rmref/internal/db"
)

// Entry is one audited change.
type Entry struct {
	ID         int64     `json:"id,string"`
	At         time.Time `json:"at"`
	Actor      string    `json:"actor"`       // "staff:E001", "client:KEY", "system", "cli"
	Action     string    `json:"action"`      // e.g. "unit.create", "staff.transfer"
	EntityType string    `json:"entity_type"` // e.g. "org_unit"
	EntityID   string    `json:"entity_id"`
	Detail     any       `json:"detail,omitempty"` // JSON-encodable: before/after, reasons
	RequestID  string    `json:"request_id,omitempty"`
}

type requestIDKey struct{}

// WithRequestID returns ctx carrying the request id for audit entries.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request id in ctx, or "".
func RequestID(ctx context.Context) string {
	s, _ := ctx.Value(requestIDKey{}).(string)
	return s
}

// Record writes e using ext (pass the transaction that makes the change).
func Record(ctx context.Context, ext sqlx.ExtContext, e Entry) error {
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
	_, err := ext.ExecContext(ctx,
		`INSERT INTO audit_log (at, actor, action, entity_type, entity_id, detail, request_id) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		db.Micros(e.At), e.Actor, e.Action, e.EntityType, e.EntityID, detail, e.RequestID)
	if err != nil {
		return fmt.Errorf("audit: record %s: %w", e.Action, err)
	}
	return nil
}

// Filter selects audit entries; zero fields match everything.
type Filter struct {
	EntityType string
	EntityID   string
	Actor      string
	AfterID    int64 // cursor: entries with a smaller id (newest first)
	Limit      int
}

type row struct {
	ID         int64  `db:"id"`
	At         int64  `db:"at"`
	Actor      string `db:"actor"`
	Action     string `db:"action"`
	EntityType string `db:"entity_type"`
	EntityID   string `db:"entity_id"`
	Detail     string `db:"detail"`
	RequestID  string `db:"request_id"`
}

// List returns entries newest first.
func List(ctx context.Context, ext sqlx.ExtContext, f Filter) ([]Entry, error) {
	q := `SELECT id, at, actor, action, entity_type, entity_id, detail, request_id FROM audit_log WHERE 1=1`
	var args []any
	if f.EntityType != "" {
		q += ` AND entity_type = ?`
		args = append(args, f.EntityType)
	}
	if f.EntityID != "" {
		q += ` AND entity_id = ?`
		args = append(args, f.EntityID)
	}
	if f.Actor != "" {
		q += ` AND actor = ?`
		args = append(args, f.Actor)
	}
	if f.AfterID > 0 {
		q += ` AND id < ?`
		args = append(args, f.AfterID)
	}
	if f.Limit <= 0 {
		f.Limit = 50
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, f.Limit)
	var rows []row
	if err := sqlx.SelectContext(ctx, ext, &rows, q, args...); err != nil {
		return nil, fmt.Errorf("audit: list: %w", err)
	}
	out := make([]Entry, len(rows))
	for i, r := range rows {
		out[i] = Entry{ID: r.ID, At: db.FromMicros(r.At), Actor: r.Actor, Action: r.Action, EntityType: r.EntityType, EntityID: r.EntityID, RequestID: r.RequestID}
		if r.Detail != "" {
			out[i].Detail = json.RawMessage(r.Detail)
		}
	}
	return out, nil
}
