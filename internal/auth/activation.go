package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"rmref/internal/apperr"
	"rmref/internal/audit"
	"rmref/internal/db"
)

// Errors of account activation.
var (
	ErrBadActivation = apperr.New(apperr.Unauthorized, "invalid_activation_code", "wrong, expired or already used activation code")
	ErrStaffLeft     = apperr.Conflictf("staff_left", "the staff member has left")
)

// Activation is a freshly issued one-time activation code. The code is
// shown once; only its hash is stored.
type Activation struct {
	StaffID    int64     `json:"staff_id,string"`
	EmployeeNo string    `json:"employee_no"`
	Code       string    `json:"code"`
	ExpiresAt  time.Time `json:"expires_at"`
}

// IssueActivation gives a staff member a new one-time activation code valid
// for 72 hours; earlier unused codes stop working. actor is recorded in
// the audit log. An unknown staff id is NotFound.
func (s *Service) IssueActivation(ctx context.Context, staffID int64, actor string) (Activation, error) {
	now := s.Clock.Now()
	var a Activation
	err := s.DB.WithTx(ctx, func(tx *sqlx.Tx) error {
		st, err := staffForActivation(ctx, tx, `id = ?`, staffID)
		if err != nil {
			return err
		}
		a, err = s.issueCode(ctx, tx, staffID, st.EmployeeNo, actor, now)
		return err
	})
	return a, err
}

// IssueActivationByEmployee is IssueActivation by employee number (CLI).
func (s *Service) IssueActivationByEmployee(ctx context.Context, employeeNo, actor string) (Activation, error) {
	var id int64
	err := sqlx.GetContext(ctx, s.DB, &id, `SELECT id FROM staff WHERE employee_no = ?`, employeeNo)
	if errors.Is(err, db.ErrNoRows) {
		return Activation{}, apperr.NotFoundf("no staff member %q", employeeNo)
	}
	if err != nil {
		return Activation{}, fmt.Errorf("auth: find staff %q: %w", employeeNo, err)
	}
	return s.IssueActivation(ctx, id, actor)
}

func staffForActivation(ctx context.Context, ext sqlx.ExtContext, where string, arg any) (loginRow, error) {
	var r loginRow
	err := sqlx.GetContext(ctx, ext, &r, `SELECT id, employee_no, status, password_hash, token_version FROM staff WHERE `+where, arg)
	if errors.Is(err, db.ErrNoRows) {
		return r, apperr.NotFoundf("no such staff member")
	}
	if err != nil {
		return r, fmt.Errorf("auth: load staff: %w", err)
	}
	if r.Status != "active" {
		return r, ErrStaffLeft
	}
	return r, nil
}

func (s *Service) issueCode(ctx context.Context, tx *sqlx.Tx, staffID int64, employeeNo, actor string, now time.Time) (Activation, error) {
	if _, err := tx.ExecContext(ctx, `DELETE FROM activation_codes WHERE staff_id = ? AND used_at IS NULL`, staffID); err != nil {
		return Activation{}, fmt.Errorf("auth: drop old codes: %w", err)
	}
	code := newActivationCode()
	exp := now.Add(ActivationCodeTTL)
	_, err := tx.ExecContext(ctx, `INSERT INTO activation_codes (staff_id, code_hash, created_at, created_by, expires_at) VALUES (?, ?, ?, ?, ?)`,
		staffID, hashSecret(normalizeCode(code)), db.Micros(now), actor, db.Micros(exp))
	if err != nil {
		return Activation{}, fmt.Errorf("auth: store activation code: %w", err)
	}
	err = audit.Record(ctx, tx, audit.Entry{At: now, Actor: actor, Action: "staff.activation_issue", EntityType: "staff",
		EntityID: fmt.Sprint(staffID), Detail: map[string]any{"employee_no": employeeNo, "expires_at": exp.UTC()}})
	if err != nil {
		return Activation{}, err
	}
	return Activation{StaffID: staffID, EmployeeNo: employeeNo, Code: code, ExpiresAt: exp.UTC()}, nil
}

type codeRow struct {
	ID        int64  `db:"id"`
	StaffID   int64  `db:"staff_id"`
	ExpiresAt int64  `db:"expires_at"`
	UsedAt    *int64 `db:"used_at"`
}

// Activate spends a one-time code and sets the staff member's password.
// Any session the staff member had is ended (a password change signs out
// everywhere). Password rules are checked first (400); a wrong, expired or
// used code is 401; the staff member must be active.
func (s *Service) Activate(ctx context.Context, employeeNo, code, password string) error {
	employeeNo = strings.TrimSpace(employeeNo)
	var c apperr.Collector
	c.Check(employeeNo == "", "employee_no", "required")
	c.Check(strings.TrimSpace(code) == "", "code", "required")
	if err := c.Err(); err != nil {
		return err
	}
	if err := ValidatePassword(password, employeeNo); err != nil {
		return err
	}
	now := s.Clock.Now()
	// A wrong code is refused before the (deliberately slow) hashing.
	if _, _, err := usableCode(ctx, s.DB, employeeNo, code, now); err != nil {
		return err
	}
	hash, err := HashPassword(password, s.BcryptCost)
	if err != nil {
		return err
	}
	return s.DB.WithTx(ctx, func(tx *sqlx.Tx) error {
		st, r, err := usableCode(ctx, tx, employeeNo, code, now)
		if err != nil {
			return err
		}
		if err := spendCode(ctx, tx, r.ID, now); err != nil {
			return err
		}
		return s.setPassword(ctx, tx, st, hash, now)
	})
}

// usableCode returns the active staff member and their unused, unexpired
// code; anything else is ErrBadActivation, never revealing which
// employees exist or have left.
func usableCode(ctx context.Context, ext sqlx.ExtContext, employeeNo, code string, now time.Time) (loginRow, codeRow, error) {
	var r codeRow
	st, err := staffForActivation(ctx, ext, `employee_no = ?`, employeeNo)
	if apperr.KindOf(err) != apperr.Internal {
		return st, r, ErrBadActivation
	}
	if err != nil {
		return st, r, err
	}
	err = sqlx.GetContext(ctx, ext, &r, `SELECT id, staff_id, expires_at, used_at FROM activation_codes WHERE code_hash = ?`, hashSecret(normalizeCode(code)))
	if errors.Is(err, db.ErrNoRows) || (err == nil && (r.StaffID != st.ID || r.UsedAt != nil || r.ExpiresAt <= db.Micros(now))) {
		return st, r, ErrBadActivation
	}
	if err != nil {
		return st, r, fmt.Errorf("auth: load activation code: %w", err)
	}
	return st, r, nil
}

// spendCode marks code id used; losing a race to another use is ErrBadActivation.
func spendCode(ctx context.Context, tx *sqlx.Tx, id int64, now time.Time) error {
	res, err := tx.ExecContext(ctx, `UPDATE activation_codes SET used_at = ? WHERE id = ? AND used_at IS NULL`, db.Micros(now), id)
	if err != nil {
		return fmt.Errorf("auth: spend activation code: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return ErrBadActivation
	}
	return nil
}

func (s *Service) setPassword(ctx context.Context, tx *sqlx.Tx, st loginRow, hash string, now time.Time) error {
	if _, err := tx.ExecContext(ctx, `UPDATE staff SET password_hash = ?, updated_at = ? WHERE id = ?`, hash, db.Micros(now), st.ID); err != nil {
		return fmt.Errorf("auth: set password: %w", err)
	}
	for _, q := range []string{`DELETE FROM login_failures WHERE employee_no = ?`, `DELETE FROM login_locks WHERE employee_no = ?`} {
		if _, err := tx.ExecContext(ctx, q, st.EmployeeNo); err != nil {
			return fmt.Errorf("auth: clear lockout: %w", err)
		}
	}
	return s.endAllSessions(ctx, tx, st.ID, now, "", "staff.password_set", map[string]string{"via": "activation_code"})
}
