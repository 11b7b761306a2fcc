package campaign

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"

	"rmref/internal/auth"
	"rmref/internal/db"
)

// row is a campaigns row.
type row struct {
	ID               int64          `db:"id"`
	Code             string         `db:"code"`
	Name             string         `db:"name"`
	Description      string         `db:"description"`
	Status           string         `db:"status"`
	StartAt          db.Instant     `db:"start_at"`
	EndAt            db.Instant     `db:"end_at"`
	Timezone         string         `db:"timezone"`
	LandingURL       string         `db:"landing_url"`
	LookbackDays     int            `db:"lookback_days"`
	AttributionModel string         `db:"attribution_model"`
	HalfLifeDays     int            `db:"half_life_days"`
	ProtectionDays   int            `db:"protection_days"`
	HoldingDays      int            `db:"holding_days"`
	FreezeAt         db.NullInstant `db:"freeze_at"`
	EndedAt          db.NullInstant `db:"ended_at"`
	CreatedAt        db.Instant     `db:"created_at"`
	UpdatedAt        db.Instant     `db:"updated_at"`
}

func (r row) campaign() Campaign {
	return Campaign{
		ID: r.ID, Code: r.Code, Name: r.Name, Description: r.Description, Status: Status(r.Status),
		StartAt: r.StartAt.Time, EndAt: r.EndAt.Time, Timezone: r.Timezone, LandingURL: r.LandingURL,
		Attribution: Attribution{LookbackDays: r.LookbackDays, Model: Model(r.AttributionModel),
			HalfLifeDays: r.HalfLifeDays, ProtectionDays: r.ProtectionDays},
		HoldingDays: r.HoldingDays, FreezeAt: r.FreezeAt.Time, EndedAt: r.EndedAt.Time,
		CreatedAt: r.CreatedAt.Time, UpdatedAt: r.UpdatedAt.Time,
	}
}

const campaignCols = `c.id, c.code, c.name, c.description, c.status, c.start_at, c.end_at, c.timezone,
	c.landing_url, c.lookback_days, c.attribution_model, c.half_life_days, c.protection_days,
	c.holding_days, c.freeze_at, c.ended_at, c.created_at, c.updated_at`

const getQuery = `SELECT ` + campaignCols + ` FROM campaigns c WHERE c.id = ?`

// Get returns the campaign with id (unscoped: for other domains and the
// system; the HTTP tier reads through the Service), or ErrNotFound.
func Get(ctx context.Context, ext sqlx.ExtContext, id int64) (Campaign, error) {
	return getOne(ctx, ext, getQuery, id)
}

const getByCodeQuery = `SELECT ` + campaignCols + ` FROM campaigns c WHERE c.code = ?`

// GetByCode returns the campaign with code (case-insensitive), or ErrNotFound.
func GetByCode(ctx context.Context, ext sqlx.ExtContext, code string) (Campaign, error) {
	return getOne(ctx, ext, getByCodeQuery, NormalizeCode(code))
}

func getOne(ctx context.Context, ext sqlx.ExtContext, q string, arg any) (Campaign, error) {
	var r row
	if err := sqlx.GetContext(ctx, ext, &r, q, arg); err != nil {
		if errors.Is(err, db.ErrNoRows) {
			return Campaign{}, ErrNotFound
		}
		return Campaign{}, fmt.Errorf("campaign: get: %w", err)
	}
	cs, err := hydrate(ctx, ext, []row{r})
	if err != nil {
		return Campaign{}, err
	}
	return cs[0], nil
}

// liveAt is the SQL form of Campaign.LiveAt (arguments: at three times):
// active, or ended after at, and within the dates.
const liveAt = `(c.status = 'active' OR (c.status = 'ended' AND c.ended_at > ?)) AND c.start_at <= ? AND c.end_at > ?`

const listActiveAtQuery = `SELECT ` + campaignCols + ` FROM campaigns c WHERE ` + liveAt + ` ORDER BY c.id`

// ListActiveAt returns the campaigns live at at (Campaign.LiveAt): active
// then and within their dates; an ended campaign counts as active before
// it ended, so late-reported activity still finds it.
func ListActiveAt(ctx context.Context, ext sqlx.ExtContext, at time.Time) ([]Campaign, error) {
	var rows []row
	us := db.Micros(at)
	if err := sqlx.SelectContext(ctx, ext, &rows, listActiveAtQuery, us, us, us); err != nil {
		return nil, fmt.Errorf("campaign: list active: %w", err)
	}
	return hydrate(ctx, ext, rows)
}

// Driven from the unit side: the ancestor paths find their units by the
// path index, the units their campaigns by campaign_units_unit.
const forUnitPathQuery = `SELECT ` + campaignCols + ` FROM campaigns c
	WHERE c.id IN (SELECT cu.campaign_id FROM org_units u JOIN campaign_units cu ON cu.unit_id = u.id
	               WHERE u.path IN (?))
	AND ` + liveAt + ` ORDER BY c.id`

// ForUnitPath returns the campaigns live at at whose participating
// subtrees contain the unit at unitPath (e.g. "/1/4/9/").
func ForUnitPath(ctx context.Context, ext sqlx.ExtContext, unitPath string, at time.Time) ([]Campaign, error) {
	prefixes := PathPrefixes(unitPath)
	if len(prefixes) == 0 {
		return []Campaign{}, nil
	}
	us := db.Micros(at)
	q, args, err := sqlx.In(forUnitPathQuery, prefixes, us, us, us)
	if err != nil {
		return nil, fmt.Errorf("campaign: for unit path: %w", err)
	}
	var rows []row
	if err := sqlx.SelectContext(ctx, ext, &rows, ext.Rebind(q), args...); err != nil {
		return nil, fmt.Errorf("campaign: for unit path: %w", err)
	}
	return hydrate(ctx, ext, rows)
}

// PathPrefixes returns every ancestor-or-self path of a materialised path:
// "/1/4/9/" → ["/1/", "/1/4/", "/1/4/9/"]. A malformed path gives none.
func PathPrefixes(path string) []string {
	if len(path) < 3 || path[0] != '/' || path[len(path)-1] != '/' {
		return nil
	}
	var out []string
	for i := 1; i < len(path); i++ {
		if path[i] == '/' {
			out = append(out, path[:i+1])
		}
	}
	return out
}

// hydrate maps rows to campaigns and loads their units and conversion rules.
func hydrate(ctx context.Context, ext sqlx.ExtContext, rows []row) ([]Campaign, error) {
	out := make([]Campaign, len(rows))
	if len(rows) == 0 {
		return out, nil
	}
	ids := make([]int64, len(rows))
	idx := make(map[int64]int, len(rows))
	for i, r := range rows {
		out[i] = r.campaign()
		out[i].Units, out[i].Conversions = []Unit{}, []ConversionRule{}
		ids[i] = r.ID
		idx[r.ID] = i
	}
	if err := loadUnits(ctx, ext, ids, func(id int64, u Unit) { out[idx[id]].Units = append(out[idx[id]].Units, u) }); err != nil {
		return nil, err
	}
	err := loadConversions(ctx, ext, ids, func(id int64, r ConversionRule) {
		out[idx[id]].Conversions = append(out[idx[id]].Conversions, r)
	})
	return out, err
}

const loadUnitsQuery = `SELECT cu.campaign_id, u.id, u.path, u.name FROM campaign_units cu
	JOIN org_units u ON u.id = cu.unit_id WHERE cu.campaign_id IN (?) ORDER BY cu.campaign_id, u.path`

func loadUnits(ctx context.Context, ext sqlx.ExtContext, ids []int64, add func(int64, Unit)) error {
	q, args, err := sqlx.In(loadUnitsQuery, ids)
	if err != nil {
		return fmt.Errorf("campaign: units: %w", err)
	}
	var rs []struct {
		CampaignID int64  `db:"campaign_id"`
		ID         int64  `db:"id"`
		Path       string `db:"path"`
		Name       string `db:"name"`
	}
	if err := sqlx.SelectContext(ctx, ext, &rs, ext.Rebind(q), args...); err != nil {
		return fmt.Errorf("campaign: units: %w", err)
	}
	for _, r := range rs {
		add(r.CampaignID, Unit{ID: r.ID, Path: r.Path, Name: r.Name})
	}
	return nil
}

const loadConversionsQuery = `SELECT campaign_id, conv_type, min_amount_fen FROM campaign_conversion_types
	WHERE campaign_id IN (?) ORDER BY campaign_id, conv_type`

func loadConversions(ctx context.Context, ext sqlx.ExtContext, ids []int64, add func(int64, ConversionRule)) error {
	q, args, err := sqlx.In(loadConversionsQuery, ids)
	if err != nil {
		return fmt.Errorf("campaign: conversion types: %w", err)
	}
	var rs []struct {
		CampaignID int64  `db:"campaign_id"`
		Type       string `db:"conv_type"`
		Min        int64  `db:"min_amount_fen"`
	}
	if err := sqlx.SelectContext(ctx, ext, &rs, ext.Rebind(q), args...); err != nil {
		return fmt.Errorf("campaign: conversion types: %w", err)
	}
	for _, r := range rs {
		add(r.CampaignID, ConversionRule{Type: r.Type, MinAmountFen: r.Min})
	}
	return nil
}

// formatID renders an id for audit entries.
func formatID(id int64) string { return strconv.FormatInt(id, 10) }

const insertQuery = `INSERT INTO campaigns (code, name, description, status, start_at, end_at, timezone,
	landing_url, lookback_days, attribution_model, half_life_days, protection_days, holding_days,
	freeze_at, ended_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// insert stores a new campaign with its units and conversion rules and
// returns its id; a taken code is ErrCodeTaken.
func insert(ctx context.Context, ext sqlx.ExtContext, d db.Dialect, c Campaign) (int64, error) {
	res, err := ext.ExecContext(ctx, insertQuery, c.Code, c.Name, c.Description, string(c.Status),
		db.Micros(c.StartAt), db.Micros(c.EndAt), c.Timezone, c.LandingURL, c.Attribution.LookbackDays,
		string(c.Attribution.Model), c.Attribution.HalfLifeDays, c.Attribution.ProtectionDays, c.HoldingDays,
		db.NullInstant{Time: c.FreezeAt}, db.NullInstant{Time: c.EndedAt}, db.Micros(c.CreatedAt), db.Micros(c.UpdatedAt))
	if err != nil {
		if d.IsUniqueViolation(err) {
			return 0, ErrCodeTaken
		}
		return 0, fmt.Errorf("campaign: insert: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("campaign: insert id: %w", err)
	}
	return id, replaceChildren(ctx, ext, id, c)
}

const updateQuery = `UPDATE campaigns SET code = ?, name = ?, description = ?, start_at = ?, end_at = ?,
	timezone = ?, landing_url = ?, lookback_days = ?, attribution_model = ?, half_life_days = ?,
	protection_days = ?, holding_days = ?, freeze_at = ?, updated_at = ? WHERE id = ?`

// update stores c's editable fields, units and conversion rules.
func update(ctx context.Context, ext sqlx.ExtContext, d db.Dialect, c Campaign) error {
	_, err := ext.ExecContext(ctx, updateQuery, c.Code, c.Name, c.Description, db.Micros(c.StartAt),
		db.Micros(c.EndAt), c.Timezone, c.LandingURL, c.Attribution.LookbackDays, string(c.Attribution.Model),
		c.Attribution.HalfLifeDays, c.Attribution.ProtectionDays, c.HoldingDays,
		db.NullInstant{Time: c.FreezeAt}, db.Micros(c.UpdatedAt), c.ID)
	if err != nil {
		if d.IsUniqueViolation(err) {
			return ErrCodeTaken
		}
		return fmt.Errorf("campaign: update: %w", err)
	}
	return replaceChildren(ctx, ext, c.ID, c)
}

func replaceChildren(ctx context.Context, ext sqlx.ExtContext, id int64, c Campaign) error {
	if _, err := ext.ExecContext(ctx, `DELETE FROM campaign_units WHERE campaign_id = ?`, id); err != nil {
		return fmt.Errorf("campaign: units: %w", err)
	}
	for _, u := range c.Units {
		if _, err := ext.ExecContext(ctx, `INSERT INTO campaign_units (campaign_id, unit_id) VALUES (?, ?)`, id, u.ID); err != nil {
			return fmt.Errorf("campaign: unit %d: %w", u.ID, err)
		}
	}
	if _, err := ext.ExecContext(ctx, `DELETE FROM campaign_conversion_types WHERE campaign_id = ?`, id); err != nil {
		return fmt.Errorf("campaign: conversion types: %w", err)
	}
	for _, r := range c.Conversions {
		if _, err := ext.ExecContext(ctx, `INSERT INTO campaign_conversion_types (campaign_id, conv_type, min_amount_fen) VALUES (?, ?, ?)`,
			id, r.Type, r.MinAmountFen); err != nil {
			return fmt.Errorf("campaign: conversion type %s: %w", r.Type, err)
		}
	}
	return nil
}

const setStatusQuery = `UPDATE campaigns SET status = ?, ended_at = ?, updated_at = ? WHERE id = ? AND status = ?`

// setStatus moves a campaign from → to when its stored status is still
// from; it reports whether this call made the change.
func setStatus(ctx context.Context, ext sqlx.ExtContext, id int64, from, to Status, endedAt, at time.Time) (bool, error) {
	res, err := ext.ExecContext(ctx, setStatusQuery, string(to), db.NullInstant{Time: endedAt}, db.Micros(at), id, string(from))
	if err != nil {
		return false, fmt.Errorf("campaign: set status: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("campaign: set status: %w", err)
	}
	return n == 1, nil
}

const dueToEndQuery = `SELECT id FROM campaigns WHERE status IN ('active', 'paused') AND end_at <= ? ORDER BY id`

// dueToEnd returns the ids of active or paused campaigns whose end time has
// passed at now but whose stored status is not yet ended.
func dueToEnd(ctx context.Context, ext sqlx.ExtContext, now time.Time) ([]int64, error) {
	var ids []int64
	if err := sqlx.SelectContext(ctx, ext, &ids, dueToEndQuery, db.Micros(now)); err != nil {
		return nil, fmt.Errorf("campaign: due to end: %w", err)
	}
	return ids, nil
}

// visibleClause restricts campaigns c to those p may read (see CanRead).
func visibleClause(p auth.Principal) (string, []any) {
	if p.ReadsAll() {
		return "1=1", nil
	}
	prefixes := PathPrefixes(p.UnitPath)
	if len(prefixes) == 0 {
		return "1=0", nil
	}
	cond := `u.path IN (?)`
	args := []any{prefixes}
	if p.HasAny(auth.RoleManager, auth.RoleCampaignManager) {
		lo, hi := auth.PathRange(p.UnitPath)
		cond = `(u.path IN (?) OR (u.path >= ? AND u.path < ?))`
		args = append(args, lo, hi)
	}
	return `EXISTS (SELECT 1 FROM campaign_units cu JOIN org_units u ON u.id = cu.unit_id
		WHERE cu.campaign_id = c.id AND ` + cond + `)`, args
}

// listVisible returns up to f.Limit+1 campaigns p may read, newest first,
// and the total matching f.
func listVisible(ctx context.Context, ext sqlx.ExtContext, p auth.Principal, f Filter) ([]Campaign, int64, error) {
	where, args := visibleClause(p)
	if f.Status != nil {
		where += ` AND c.status = ?`
		args = append(args, string(*f.Status))
	}
	total, err := countWhere(ctx, ext, where, args)
	if err != nil {
		return nil, 0, err
	}
	pageArgs := append([]any{}, args...)
	if f.Before > 0 {
		where += ` AND c.id < ?`
		pageArgs = append(pageArgs, f.Before)
	}
	q, qargs, err := sqlx.In(`SELECT `+campaignCols+` FROM campaigns c WHERE `+where+` ORDER BY c.id DESC LIMIT ?`, append(pageArgs, f.Limit+1)...)
	if err != nil {
		return nil, 0, fmt.Errorf("campaign: list: %w", err)
	}
	var rows []row
	if err := sqlx.SelectContext(ctx, ext, &rows, ext.Rebind(q), qargs...); err != nil {
		return nil, 0, fmt.Errorf("campaign: list: %w", err)
	}
	cs, err := hydrate(ctx, ext, rows)
	return cs, total, err
}

func countWhere(ctx context.Context, ext sqlx.ExtContext, where string, args []any) (int64, error) {
	q, qargs, err := sqlx.In(`SELECT COUNT(*) FROM campaigns c WHERE `+where, args...)
	if err != nil {
		return 0, fmt.Errorf("campaign: count: %w", err)
	}
	var n int64
	if err := sqlx.GetContext(ctx, ext, &n, ext.Rebind(q), qargs...); err != nil {
		return 0, fmt.Errorf("campaign: count: %w", err)
	}
	return n, nil
}
