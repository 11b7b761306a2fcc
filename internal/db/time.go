package db

import (
	"database/sql/driver"
	"fmt"
	"time"
)

// Instants are stored as BIGINT microseconds since the Unix epoch, UTC, in
// both dialects: exact, index-friendly, and free of driver time-zone quirks.
// Calendar dates are stored as CHAR(10) "YYYY-MM-DD" strings.

// Micros returns t as microseconds since the epoch.
func Micros(t time.Time) int64 { return t.UnixMicro() }

// FromMicros returns the UTC instant of us microseconds since the epoch.
func FromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// Instant is a time.Time that scans from and stores as BIGINT microseconds.
type Instant struct{ time.Time }

// Scan implements sql.Scanner.
func (i *Instant) Scan(v any) error {
	switch x := v.(type) {
	case int64:
		i.Time = FromMicros(x)
	case []byte:
		var n int64
		if _, err := fmt.Sscan(string(x), &n); err != nil {
			return fmt.Errorf("db: instant %q: %w", x, err)
		}
		i.Time = FromMicros(n)
	case nil:
		i.Time = time.Time{}
	default:
		return fmt.Errorf("db: cannot scan %T into Instant", v)
	}
	return nil
}

// Value implements driver.Valuer.
func (i Instant) Value() (driver.Value, error) { return Micros(i.Time), nil }

// NullInstant is an Instant that may be NULL (zero Time).
type NullInstant struct{ time.Time }

// Scan implements sql.Scanner.
func (n *NullInstant) Scan(v any) error {
	if v == nil {
		n.Time = time.Time{}
		return nil
	}
	var i Instant
	if err := i.Scan(v); err != nil {
		return err
	}
	n.Time = i.Time
	return nil
}

// Value implements driver.Valuer: the zero time is NULL.
func (n NullInstant) Value() (driver.Value, error) {
	if n.IsZero() {
		return nil, nil
	}
	return Micros(n.Time), nil
}
