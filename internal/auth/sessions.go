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

// Errors of the sign-in flow. Wrong employee number and wrong password are
// one error, so that the answer does not reveal which employees exist.
var (
	ErrBadCredentials = apperr.New(apperr.Unauthorized, "invalid_credentials", "wrong employee number or password")
	ErrBadRefresh     = apperr.New(apperr.Unauthorized, "invalid_refresh_token", "invalid, expired or revoked refresh token")
	ErrRefreshReused  = apperr.New(apperr.Unauthorized, "refresh_token_reused", "refresh token already used: every session of this sign-in is revoked")
)

type loginRow struct {
	ID           int64   `db:"id"`
	EmployeeNo   string  `db:"employee_no"`
	Status       string  `db:"status"`
	PasswordHash *string `db:"password_hash"`
	TokenVersion int64   `db:"token_version"`
}

const qLoginStaff = `SELECT id, employee_no, status, password_hash, token_version FROM staff WHERE employee_no = ?`

func loadLoginRow(ctx context.Context, ext sqlx.ExtContext, employeeNo string) (loginRow, bool, error) {
	var r loginRow
	err := sqlx.GetContext(ctx, ext, &r, qLoginStaff, employeeNo)
	if errors.Is(err, db.ErrNoRows) {
		return r, false, nil
	}
	if err != nil {
		return r, false, fmt.Errorf("auth: load staff %q: %w", employeeNo, err)
	}
	return r, true, nil
}

// Login checks an employee number and password and opens a new session
// (a new refresh-token family). Five failures within 15 minutes lock the
// employee number for 15 minutes.
//
// Each attempt is counted as a failure before the (slow) password check and
// forgiven when it succeeds, so parallel guesses cannot all slip past the
// count while bcrypt runs.
func (s *Service) Login(ctx context.Context, employeeNo, password string) (Session, error) {
	employeeNo = strings.TrimSpace(employeeNo)
	var c apperr.Collector
	c.Check(employeeNo == "" || len(employeeNo) > 64, "employee_no", "required, at most 64 characters")
	c.Check(password == "", "password", "required")
	if err := c.Err(); err != nil {
		return Session{}, err
	}
	now := s.Clock.Now()
	if err := retry(ctx, func() error { return s.beginAttempt(ctx, employeeNo, now) }); err != nil {
		return Session{}, err
	}
	r, found, err := loadLoginRow(ctx, s.DB, employeeNo)
	if err != nil {
		return Session{}, err
	}
	hash := ""
	if found && r.PasswordHash != nil {
		hash = *r.PasswordHash
	}
	if !CheckPassword(hash, password) || r.Status != "active" {
		return Session{}, retry(ctx, func() error { return s.failAttempt(ctx, employeeNo, now) })
	}
	if err := s.forgetFailures(ctx, employeeNo, r.ID, now); err != nil {
		return Session{}, err
	}
	return s.openSession(ctx, s.DB, r.ID, r.EmployeeNo, r.TokenVersion, randomHex(16), now)
}

// retry runs fn up to four times while it fails with an internal error: a
// transaction that lost a deadlock (MySQL) was rolled back whole and may
// simply run again; refusals (4xx kinds) are returned at once.
func retry(ctx context.Context, fn func() error) error {
	var err error
	for range 4 {
		if err = fn(); apperr.KindOf(err) != apperr.Internal || err == nil || ctx.Err() != nil {
			return err
		}
	}
	return err
}

// lockGuard takes the employee number's guard row (creating it unlocked),
// which serialises concurrent attempts on one employee number, and returns
// its locked_until.
func (s *Service) lockGuard(ctx context.Context, tx *sqlx.Tx, employeeNo string) (int64, error) {
	q := `INSERT INTO login_locks (employee_no, locked_until) VALUES (?, 0) ` + s.DB.Dialect.IgnoreDup([]string{"employee_no"}, "locked_until")
	if _, err := tx.ExecContext(ctx, q, employeeNo); err != nil {
		return 0, fmt.Errorf("auth: guard: %w", err)
	}
	var until int64
	if err := sqlx.GetContext(ctx, tx, &until, `SELECT locked_until FROM login_locks WHERE employee_no = ?`, employeeNo); err != nil {
		return 0, fmt.Errorf("auth: guard: %w", err)
	}
	return until, nil
}

func (s *Service) countFailures(ctx context.Context, tx *sqlx.Tx, employeeNo string, now time.Time) (int, error) {
	var n int
	err := sqlx.GetContext(ctx, tx, &n, `SELECT COUNT(*) FROM login_failures WHERE employee_no = ? AND at > ?`,
		employeeNo, db.Micros(now.Add(-LockoutWindow)))
	if err != nil {
		return 0, fmt.Errorf("auth: count failures: %w", err)
	}
	return n, nil
}

// beginAttempt refuses a locked employee number (429 with Retry-After) and
// one whose failures, counting attempts still in progress, already reach
// the limit; otherwise it counts this attempt as a failure until it succeeds.
func (s *Service) beginAttempt(ctx context.Context, employeeNo string, now time.Time) error {
	return s.DB.WithTx(ctx, func(tx *sqlx.Tx) error {
		until, err := s.lockGuard(ctx, tx, employeeNo)
		if err != nil {
			return err
		}
		if left := db.FromMicros(until).Sub(now); left > 0 {
			return lockedErr(left)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM login_failures WHERE employee_no = ? AND at <= ?`,
			employeeNo, db.Micros(now.Add(-LockoutWindow))); err != nil {
			return fmt.Errorf("auth: expire failures: %w", err)
		}
		n, err := s.countFailures(ctx, tx, employeeNo, now)
		if err != nil {
			return err
		}
		if n >= MaxLoginFailures { // the rest are attempts in progress
			return lockedErr(time.Second)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO login_failures (employee_no, at) VALUES (?, ?)`, employeeNo, db.Micros(now)); err != nil {
			return fmt.Errorf("auth: record attempt: %w", err)
		}
		return nil
	})
}

func lockedErr(left time.Duration) error {
	return &apperr.Error{Kind: apperr.RateLimited, Type: "account_locked",
		Detail: "too many failed sign-ins: try again later", RetryAfter: left}
}

// failAttempt settles a failed attempt (already counted): at the fifth
// failure within the window the employee number is locked and the count
// starts afresh. It returns the error to answer with (never nil). Failures
// are not changes anyone audits, but they persist although the answer is
// a 4xx.
func (s *Service) failAttempt(ctx context.Context, employeeNo string, now time.Time) error {
	locked := false
	err := s.DB.WithTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := s.lockGuard(ctx, tx, employeeNo); err != nil {
			return err
		}
		n, err := s.countFailures(ctx, tx, employeeNo, now)
		if err != nil || n < MaxLoginFailures {
			return err
		}
		locked = true
		if _, err := tx.ExecContext(ctx, `UPDATE login_locks SET locked_until = ? WHERE employee_no = ?`,
			db.Micros(now.Add(LockoutDuration)), employeeNo); err != nil {
			return fmt.Errorf("auth: lock: %w", err)
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM login_failures WHERE employee_no = ?`, employeeNo)
		return err
	})
	switch {
	case err != nil:
		return err
	case locked:
		return lockedErr(LockoutDuration)
	}
	return ErrBadCredentials
}

// forgetFailures clears the failure count (this attempt's included) after
// a successful sign-in and purges the staff member's expired refresh tokens.
func (s *Service) forgetFailures(ctx context.Context, employeeNo string, staffID int64, now time.Time) error {
	if _, err := s.DB.ExecContext(ctx, `DELETE FROM login_failures WHERE employee_no = ?`, employeeNo); err != nil {
		return fmt.Errorf("auth: clear failures: %w", err)
	}
	if _, err := s.DB.ExecContext(ctx, `DELETE FROM refresh_tokens WHERE staff_id = ? AND expires_at < ?`, staffID, db.Micros(now)); err != nil {
		return fmt.Errorf("auth: purge expired tokens: %w", err)
	}
	return nil
}

const qInsertRefresh = `INSERT INTO refresh_tokens (family_id, staff_id, token_hash, token_version, issued_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`

// openSession stores a new refresh token in family and signs an access token.
func (s *Service) openSession(ctx context.Context, ext sqlx.ExtContext, staffID int64, employeeNo string, ver int64, family string, now time.Time) (Session, error) {
	refresh := "rt_" + randomToken(32)
	rexp := now.Add(s.refreshTTL())
	if _, err := ext.ExecContext(ctx, qInsertRefresh, family, staffID, hashSecret(refresh), ver, db.Micros(now), db.Micros(rexp)); err != nil {
		return Session{}, fmt.Errorf("auth: store refresh token: %w", err)
	}
	access, exp, err := s.Tokens.Issue(staffID, employeeNo, ver)
	if err != nil {
		return Session{}, err
	}
	return Session{AccessToken: access, TokenType: "Bearer", ExpiresAt: exp.UTC(), ExpiresIn: int64(exp.Sub(now).Seconds()),
		RefreshToken: refresh, RefreshExpiresAt: rexp.UTC(), StaffID: staffID, EmployeeNo: employeeNo}, nil
}

type refreshRow struct {
	ID           int64  `db:"id"`
	FamilyID     string `db:"family_id"`
	StaffID      int64  `db:"staff_id"`
	TokenVersion int64  `db:"token_version"`
	ExpiresAt    int64  `db:"expires_at"`
	RotatedAt    *int64 `db:"rotated_at"`
	RevokedAt    *int64 `db:"revoked_at"`
}

const qRefreshByHash = `SELECT id, family_id, staff_id, token_version, expires_at, rotated_at, revoked_at FROM refresh_tokens WHERE token_hash = ?`

func loadRefresh(ctx context.Context, ext sqlx.ExtContext, token string) (refreshRow, error) {
	var r refreshRow
	if token == "" {
		return r, apperr.Field("refresh_token", "required")
	}
	err := sqlx.GetContext(ctx, ext, &r, qRefreshByHash, hashSecret(token))
	if errors.Is(err, db.ErrNoRows) {
		return r, ErrBadRefresh
	}
	if err != nil {
		return r, fmt.Errorf("auth: load refresh token: %w", err)
	}
	return r, nil
}

// Refresh rotates a refresh token: the presented token is spent and a new
// one of the same family is returned with a fresh access token. Presenting
// a spent token again revokes the whole family (it was stolen or leaked).
func (s *Service) Refresh(ctx context.Context, token string) (Session, error) {
	now := s.Clock.Now()
	var sess Session
	var deny error // a refusal whose revocations must still commit
	err := retry(ctx, func() error {
		return s.DB.WithTx(ctx, func(tx *sqlx.Tx) error {
			r, err := loadRefresh(ctx, tx, token)
			if err != nil {
				return err
			}
			sess, deny, err = s.rotate(ctx, tx, r, now)
			return err
		})
	})
	if err != nil {
		return Session{}, err
	}
	if deny != nil {
		return Session{}, deny
	}
	return sess, nil
}

func (s *Service) rotate(ctx context.Context, tx *sqlx.Tx, r refreshRow, now time.Time) (Session, error, error) {
	switch {
	case r.RevokedAt != nil || r.ExpiresAt <= db.Micros(now):
		return Session{}, ErrBadRefresh, nil
	case r.RotatedAt != nil:
		return Session{}, ErrRefreshReused, s.revokeReusedFamily(ctx, tx, r, now)
	}
	st, err := loadStaffState(ctx, tx, r.StaffID)
	if err != nil {
		return Session{}, nil, err
	}
	if st.Status != "active" || st.TokenVersion != r.TokenVersion {
		return Session{}, ErrBadRefresh, revokeFamily(ctx, tx, r.FamilyID, now)
	}
	res, err := tx.ExecContext(ctx, `UPDATE refresh_tokens SET rotated_at = ? WHERE id = ? AND rotated_at IS NULL AND revoked_at IS NULL`, db.Micros(now), r.ID)
	if err != nil {
		return Session{}, nil, fmt.Errorf("auth: rotate: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 { // spent concurrently: a reuse too
		return Session{}, ErrRefreshReused, s.revokeReusedFamily(ctx, tx, r, now)
	}
	sess, err := s.openSession(ctx, tx, r.StaffID, st.EmployeeNo, st.TokenVersion, r.FamilyID, now)
	return sess, nil, err
}

func (s *Service) revokeReusedFamily(ctx context.Context, tx *sqlx.Tx, r refreshRow, now time.Time) error {
	if err := revokeFamily(ctx, tx, r.FamilyID, now); err != nil {
		return err
	}
	return audit.Record(ctx, tx, audit.Entry{At: now, Actor: "system", Action: "session.reuse_revoke",
		EntityType: "staff", EntityID: fmt.Sprint(r.StaffID), Detail: map[string]string{"family_id": r.FamilyID}})
}

func revokeFamily(ctx context.Context, ext sqlx.ExtContext, family string, now time.Time) error {
	_, err := ext.ExecContext(ctx, `UPDATE refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL`, db.Micros(now), family)
	if err != nil {
		return fmt.Errorf("auth: revoke family: %w", err)
	}
	return nil
}

type staffState struct {
	EmployeeNo   string `db:"employee_no"`
	Status       string `db:"status"`
	TokenVersion int64  `db:"token_version"`
}

func loadStaffState(ctx context.Context, ext sqlx.ExtContext, id int64) (staffState, error) {
	var st staffState
	err := sqlx.GetContext(ctx, ext, &st, `SELECT employee_no, status, token_version FROM staff WHERE id = ?`, id)
	if errors.Is(err, db.ErrNoRows) {
		return st, ErrBadRefresh
	}
	if err != nil {
		return st, fmt.Errorf("auth: load staff %d: %w", id, err)
	}
	return st, nil
}

// Logout revokes the session (refresh-token family) of token. With all,
// it also ends every session of the staff member, access tokens included
// (the token version is bumped); that is audited.
func (s *Service) Logout(ctx context.Context, token string, all bool) error {
	now := s.Clock.Now()
	return s.DB.WithTx(ctx, func(tx *sqlx.Tx) error {
		r, err := loadRefresh(ctx, tx, token)
		if err != nil {
			return err
		}
		if err := revokeFamily(ctx, tx, r.FamilyID, now); err != nil || !all {
			return err
		}
		return s.endAllSessions(ctx, tx, r.StaffID, now, "", "staff.logout_all", nil)
	})
}

// endAllSessions revokes every refresh token of a staff member, bumps the
// token version (killing access tokens) and audits action by actor ("" is
// the staff member themselves).
func (s *Service) endAllSessions(ctx context.Context, tx *sqlx.Tx, staffID int64, now time.Time, actor, action string, detail any) error {
	if _, err := tx.ExecContext(ctx, `UPDATE refresh_tokens SET revoked_at = ? WHERE staff_id = ? AND revoked_at IS NULL`, db.Micros(now), staffID); err != nil {
		return fmt.Errorf("auth: revoke sessions: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE staff SET token_version = token_version + 1, updated_at = ? WHERE id = ?`, db.Micros(now), staffID); err != nil {
		return fmt.Errorf("auth: bump token version: %w", err)
	}
	st, err := loadStaffState(ctx, tx, staffID)
	if err != nil {
		return err
	}
	if actor == "" {
		actor = "staff:" + st.EmployeeNo
	}
	return audit.Record(ctx, tx, audit.Entry{At: now, Actor: actor, Action: action,
		EntityType: "staff", EntityID: fmt.Sprint(staffID), Detail: detail})
}
