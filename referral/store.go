package referral

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/jmoiron/sqlx"

	"rmref/internal/db"
)

// codeRow is a referral_codes row.
type codeRow struct {
	ID         int64          `db:"id"`
	Code       string         `db:"code"`
	StaffID    int64          `db:"staff_id"`
	CampaignID int64          `db:"campaign_id"`
	CreatedAt  db.Instant     `db:"created_at"`
	RevokedAt  db.NullInstant `db:"revoked_at"`
}

func (r codeRow) code() Code {
	return Code{ID: r.ID, Code: r.Code, StaffID: r.StaffID, CampaignID: r.CampaignID,
		CreatedAt: r.CreatedAt.Time, RevokedAt: r.RevokedAt.Time}
}

const codeCols = `id, code, staff_id, campaign_id, created_at, revoked_at`

const lookupCodeQuery = `SELECT ` + codeCols + ` FROM referral_codes WHERE code = ?`

// LookupCode returns the code with the canonical value code, revoked or
// not (RevokedAt tells when it stopped counting), or ErrCodeNotFound. It is
// what the attribution engine uses to resolve a typed code.
func LookupCode(ctx context.Context, ext sqlx.ExtContext, code string) (Code, error) {
	var r codeRow
	if err := sqlx.GetContext(ctx, ext, &r, lookupCodeQuery, code); err != nil {
		if errors.Is(err, db.ErrNoRows) {
			return Code{}, ErrCodeNotFound
		}
		return Code{}, fmt.Errorf("referral: lookup code: %w", err)
	}
	return r.code(), nil
}

const activeCodeQuery = `SELECT ` + codeCols + ` FROM referral_codes WHERE active_key = ?`

// activeCode returns the staff member's active code for the campaign.
func activeCode(ctx context.Context, ext sqlx.ExtContext, staffID, campaignID int64) (Code, error) {
	var r codeRow
	if err := sqlx.GetContext(ctx, ext, &r, activeCodeQuery, activeKey(staffID, campaignID)); err != nil {
		if errors.Is(err, db.ErrNoRows) {
			return Code{}, ErrCodeNotFound
		}
		return Code{}, fmt.Errorf("referral: active code: %w", err)
	}
	return r.code(), nil
}

func activeKey(staffID, campaignID int64) string {
	return strconv.FormatInt(staffID, 10) + ":" + strconv.FormatInt(campaignID, 10)
}

const insertCodeQuery = `INSERT INTO referral_codes (code, staff_id, campaign_id, active_key, created_at) VALUES (?, ?, ?, ?, ?)`

// insertCode stores a new active code; a unique violation (the code value
// or an active code for the same staff and campaign) is returned as is.
func insertCode(ctx context.Context, ext sqlx.ExtContext, c Code) (Code, error) {
	res, err := ext.ExecContext(ctx, insertCodeQuery, c.Code, c.StaffID, c.CampaignID,
		activeKey(c.StaffID, c.CampaignID), db.Micros(c.CreatedAt))
	if err != nil {
		return Code{}, err
	}
	c.ID, err = res.LastInsertId()
	return c, err
}

const revokeCodeQuery = `UPDATE referral_codes SET revoked_at = ?, revoked_by = ?, active_key = NULL
	WHERE id = ? AND revoked_at IS NULL`

// revokeCode marks the code revoked at micros; false when it already was.
func revokeCode(ctx context.Context, ext sqlx.ExtContext, id, micros int64, by string) (bool, error) {
	res, err := ext.ExecContext(ctx, revokeCodeQuery, micros, by, id)
	if err != nil {
		return false, fmt.Errorf("referral: revoke: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// staffRow is what referral reads about a staff member.
type staffRow struct {
	ID       int64  `db:"id"`
	Name     string `db:"name"`
	Status   string `db:"status"`
	UnitID   int64  `db:"unit_id"`
	UnitName string `db:"unit_name"`
	UnitPath string `db:"unit_path"`
}

const staffQuery = `SELECT s.id, s.name, s.status, s.unit_id, u.name AS unit_name, u.path AS unit_path
	FROM staff s JOIN org_units u ON u.id = s.unit_id WHERE s.id = ?`

func getStaff(ctx context.Context, ext sqlx.ExtContext, id int64) (staffRow, error) {
	var r staffRow
	if err := sqlx.GetContext(ctx, ext, &r, staffQuery, id); err != nil {
		if errors.Is(err, db.ErrNoRows) {
			return staffRow{}, ErrNotInScope
		}
		return staffRow{}, fmt.Errorf("referral: staff: %w", err)
	}
	return r, nil
}

const insertShareQuery = `INSERT INTO referral_shares (staff_id, campaign_id, channel, at, day) VALUES (?, ?, ?, ?, ?)`

func insertShare(ctx context.Context, ext sqlx.ExtContext, sh Share) (int64, error) {
	res, err := ext.ExecContext(ctx, insertShareQuery, sh.StaffID, sh.CampaignID, sh.Channel, db.Micros(sh.At), sh.Day)
	if err != nil {
		return 0, fmt.Errorf("referral: share: %w", err)
	}
	return res.LastInsertId()
}

const rememberVisitorQuery = `INSERT INTO referral_staff_visitors (visitor_id, staff_id, first_seen) VALUES (?, ?, ?) `

func rememberVisitor(ctx context.Context, d *db.DB, visitorID string, staffID, micros int64) error {
	q := rememberVisitorQuery + d.Dialect.IgnoreDup([]string{"visitor_id", "staff_id"}, "first_seen")
	if _, err := d.ExecContext(ctx, q, visitorID, staffID, micros); err != nil {
		return fmt.Errorf("referral: remember visitor: %w", err)
	}
	return nil
}
