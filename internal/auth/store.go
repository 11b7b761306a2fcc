package auth

import (
	"context"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"

	"rmref/internal/apperr"
	"rmref/internal/db"
)

const qStaffPrincipal = `
SELECT s.id, s.employee_no, s.name, s.unit_id, u.path, s.roles, s.status, s.token_version
FROM staff s JOIN org_units u ON u.id = s.unit_id
WHERE s.id = ?`

type staffRow struct {
	ID           int64  `db:"id"`
	EmployeeNo   string `db:"employee_no"`
	Name         string `db:"name"`
	UnitID       int64  `db:"unit_id"`
	Path         string `db:"path"`
	Roles        string `db:"roles"`
	Status       string `db:"status"`
	TokenVersion int64  `db:"token_version"`
}

// LoadStaffPrincipal loads an active staff member as a Principal, checking
// that the token version still matches (so leaving or logging out
// everywhere kills tokens at once).
func LoadStaffPrincipal(ctx context.Context, ext sqlx.ExtContext, staffID, ver int64) (Principal, error) {
	var r staffRow
	if err := sqlx.GetContext(ctx, ext, &r, qStaffPrincipal, staffID); err != nil {
		if errors.Is(err, db.ErrNoRows) {
			return Principal{}, apperr.Unauthorizedf("unknown staff member")
		}
		return Principal{}, fmt.Errorf("auth: load staff %d: %w", staffID, err)
	}
	if r.Status != "active" || r.TokenVersion != ver {
		return Principal{}, apperr.Unauthorizedf("session no longer valid")
	}
	return Principal{StaffID: r.ID, EmployeeNo: r.EmployeeNo, Name: r.Name, UnitID: r.UnitID, UnitPath: r.Path, Roles: ParseRoles(r.Roles)}, nil
}

// ClientRow is a stored service client.
type ClientRow struct {
	ID     int64  `db:"id"`
	KeyID  string `db:"key_id"`
	Name   string `db:"name"`
	Salt   string `db:"salt"`
	Scopes string `db:"scopes"`
	Status string `db:"status"`
}

// LoadClient returns the active service client with the given key id.
func LoadClient(ctx context.Context, ext sqlx.ExtContext, keyID string) (ClientRow, error) {
	var c ClientRow
	err := sqlx.GetContext(ctx, ext, &c, `SELECT id, key_id, name, salt, scopes, status FROM service_clients WHERE key_id = ?`, keyID)
	if errors.Is(err, db.ErrNoRows) || (err == nil && c.Status != "active") {
		return ClientRow{}, apperr.Unauthorizedf("unknown or revoked client key")
	}
	if err != nil {
		return ClientRow{}, fmt.Errorf("auth: load client: %w", err)
	}
	return c, nil
}

// RememberSignature records a used signature until expiresAt; it returns an
// Unauthorized error when the signature was already used (a replay).
func RememberSignature(ctx context.Context, d *db.DB, sig, keyID string, expiresAt int64) error {
	_, err := d.ExecContext(ctx, `INSERT INTO request_signatures (signature, key_id, expires_at) VALUES (?, ?, ?)`, sig, keyID, expiresAt)
	if d.Dialect.IsUniqueViolation(err) {
		return apperr.New(apperr.Unauthorized, "replayed_request", "request signature already used")
	}
	if err != nil {
		return fmt.Errorf("auth: remember signature: %w", err)
	}
	return nil
}

// ForgetExpiredSignatures deletes signatures past their window.
func ForgetExpiredSignatures(ctx context.Context, ext sqlx.ExtContext, nowMicros int64) error {
	_, err := ext.ExecContext(ctx, `DELETE FROM request_signatures WHERE expires_at < ?`, nowMicros)
	return err
}
