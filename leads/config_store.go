package leads

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"rmref/internal/db"
)

type settingsRow struct {
	WeekCap         int           `db:"week_cap"`
	MonthCap        int           `db:"month_cap"`
	QuietStartMin   int           `db:"quiet_start_min"`
	QuietEndMin     int           `db:"quiet_end_min"`
	LeaseSeconds    int           `db:"lease_seconds"`
	RetentionHours  int           `db:"retention_hours"`
	DefaultPool     sql.NullInt64 `db:"default_pool_unit_id"`
	DefaultCapacity int           `db:"default_capacity"`
}

func hhmm(m int) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }

// loadSettings returns the stored settings, or the defaults when none are stored.
func loadSettings(ctx context.Context, ext sqlx.ExtContext) (Settings, error) {
	s := DefaultSettings()
	var r settingsRow
	err := sqlx.GetContext(ctx, ext, &r, `SELECT week_cap, month_cap, quiet_start_min, quiet_end_min, lease_seconds,
		retention_hours, default_pool_unit_id, default_capacity FROM lead_settings WHERE id = 1`)
	if err != nil && !errors.Is(err, db.ErrNoRows) {
		return s, fmt.Errorf("leads: settings: %w", err)
	}
	if err == nil {
		s = Settings{WeekCap: r.WeekCap, MonthCap: r.MonthCap, QuietStart: hhmm(r.QuietStartMin), QuietEnd: hhmm(r.QuietEndMin),
			LeaseSeconds: r.LeaseSeconds, RetentionHours: r.RetentionHours, DefaultPoolUnitID: r.DefaultPool.Int64,
			DefaultCapacity: r.DefaultCapacity, quietStartMin: r.QuietStartMin, quietEndMin: r.QuietEndMin}
	}
	var chans []struct {
		Channel string `db:"channel"`
		UnitID  int64  `db:"unit_id"`
	}
	if err := sqlx.SelectContext(ctx, ext, &chans, `SELECT channel, unit_id FROM lead_channel_units`); err != nil {
		return s, fmt.Errorf("leads: channel units: %w", err)
	}
	s.ChannelUnits = map[string]int64{}
	for _, c := range chans {
		s.ChannelUnits[c.Channel] = c.UnitID
	}
	return s, nil
}

func saveSettings(ctx context.Context, ext sqlx.ExtContext, d db.Dialect, s Settings, now time.Time) error {
	q := `INSERT INTO lead_settings (id, week_cap, month_cap, quiet_start_min, quiet_end_min, lease_seconds, retention_hours,
		default_pool_unit_id, default_capacity, updated_at) VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?) ` +
		d.Upsert([]string{"id"}, []string{"week_cap", "month_cap", "quiet_start_min", "quiet_end_min", "lease_seconds",
			"retention_hours", "default_pool_unit_id", "default_capacity", "updated_at"})
	if _, err := ext.ExecContext(ctx, q, s.WeekCap, s.MonthCap, s.quietStartMin, s.quietEndMin, s.LeaseSeconds,
		s.RetentionHours, nullID(s.DefaultPoolUnitID), s.DefaultCapacity, db.Micros(now)); err != nil {
		return fmt.Errorf("leads: save settings: %w", err)
	}
	if _, err := ext.ExecContext(ctx, `DELETE FROM lead_channel_units`); err != nil {
		return fmt.Errorf("leads: save channel units: %w", err)
	}
	for ch, u := range s.ChannelUnits {
		if _, err := ext.ExecContext(ctx, `INSERT INTO lead_channel_units (channel, unit_id, updated_at) VALUES (?, ?, ?)`, ch, u, db.Micros(now)); err != nil {
			return fmt.Errorf("leads: save channel units: %w", err)
		}
	}
	return nil
}

type calendarRow struct {
	UnitID   int64  `db:"unit_id"`
	Timezone string `db:"timezone"`
	Workdays string `db:"workdays"`
	StartMin int    `db:"start_min"`
	EndMin   int    `db:"end_min"`
}

// calendarFor returns the calendar of unit: its own, else its nearest
// ancestor's, else the default.
func calendarFor(ctx context.Context, ext sqlx.ExtContext, unitID int64) (Calendar, error) {
	if unitID == 0 {
		return DefaultCalendar(), nil
	}
	var path string
	if err := sqlx.GetContext(ctx, ext, &path, `SELECT path FROM org_units WHERE id = ?`, unitID); err != nil {
		if errors.Is(err, db.ErrNoRows) {
			return DefaultCalendar(), nil
		}
		return Calendar{}, fmt.Errorf("leads: unit %d: %w", unitID, err)
	}
	ids := strings.Split(strings.Trim(path, "/"), "/")
	for i := len(ids) - 1; i >= 0; i-- {
		id, _ := strconv.ParseInt(ids[i], 10, 64)
		c, ok, err := ownCalendar(ctx, ext, id)
		if err != nil || ok {
			c.Inherited = id != unitID
			c.UnitID = unitID
			return c, err
		}
	}
	c := DefaultCalendar()
	c.UnitID, c.Inherited = unitID, true
	return c, nil
}

func ownCalendar(ctx context.Context, ext sqlx.ExtContext, unitID int64) (Calendar, bool, error) {
	var r calendarRow
	err := sqlx.GetContext(ctx, ext, &r, `SELECT unit_id, timezone, workdays, start_min, end_min FROM lead_calendars WHERE unit_id = ?`, unitID)
	if errors.Is(err, db.ErrNoRows) {
		return Calendar{}, false, nil
	}
	if err != nil {
		return Calendar{}, false, fmt.Errorf("leads: calendar %d: %w", unitID, err)
	}
	c := Calendar{UnitID: unitID, Timezone: r.Timezone, Start: hhmm(r.StartMin), End: hhmm(r.EndMin), Overrides: []DayOverride{}}
	for _, ch := range r.Workdays {
		c.Workdays = append(c.Workdays, int(ch-'0'))
	}
	if err := sqlx.SelectContext(ctx, ext, &c.Overrides, `SELECT day AS date, kind FROM lead_calendar_days WHERE unit_id = ? ORDER BY day`, unitID); err != nil {
		return Calendar{}, false, fmt.Errorf("leads: calendar days %d: %w", unitID, err)
	}
	return c, true, c.compile()
}

func saveCalendar(ctx context.Context, ext sqlx.ExtContext, d db.Dialect, c Calendar, now time.Time) error {
	var wd strings.Builder
	for _, x := range c.Workdays {
		wd.WriteString(strconv.Itoa(x))
	}
	q := `INSERT INTO lead_calendars (unit_id, timezone, workdays, start_min, end_min, updated_at) VALUES (?, ?, ?, ?, ?, ?) ` +
		d.Upsert([]string{"unit_id"}, []string{"timezone", "workdays", "start_min", "end_min", "updated_at"})
	if _, err := ext.ExecContext(ctx, q, c.UnitID, c.Timezone, wd.String(), c.startMin, c.endMin, db.Micros(now)); err != nil {
		return fmt.Errorf("leads: save calendar: %w", err)
	}
	if _, err := ext.ExecContext(ctx, `DELETE FROM lead_calendar_days WHERE unit_id = ?`, c.UnitID); err != nil {
		return fmt.Errorf("leads: save calendar days: %w", err)
	}
	for _, o := range c.Overrides {
		if _, err := ext.ExecContext(ctx, `INSERT INTO lead_calendar_days (unit_id, day, kind) VALUES (?, ?, ?)`, c.UnitID, o.Date, o.Kind); err != nil {
			return fmt.Errorf("leads: save calendar day %s: %w", o.Date, err)
		}
	}
	return nil
}

type ruleRow struct {
	ID         int64  `db:"id"`
	Code       string `db:"code"`
	Name       string `db:"name"`
	Status     string `db:"status"`
	Version    int    `db:"version"`
	Definition string `db:"definition"`
	CreatedBy  string `db:"created_by"`
	CreatedAt  int64  `db:"created_at"`
	UpdatedAt  int64  `db:"updated_at"`
}

const ruleCols = `id, code, name, status, version, definition, created_by, created_at, updated_at`

func (r ruleRow) rule() (Rule, error) {
	out := Rule{ID: r.ID, Code: r.Code, Name: r.Name, Status: r.Status, Version: r.Version, CreatedBy: r.CreatedBy,
		CreatedAt: db.FromMicros(r.CreatedAt), UpdatedAt: db.FromMicros(r.UpdatedAt)}
	if err := json.Unmarshal([]byte(r.Definition), &out.Definition); err != nil {
		return Rule{}, fmt.Errorf("leads: rule %d definition: %w", r.ID, err)
	}
	return out, nil
}

func selectRules(ctx context.Context, ext sqlx.ExtContext, q string, args ...any) ([]Rule, error) {
	var rows []ruleRow
	if err := sqlx.SelectContext(ctx, ext, &rows, q, args...); err != nil {
		return nil, fmt.Errorf("leads: rules: %w", err)
	}
	out := make([]Rule, 0, len(rows))
	for _, r := range rows {
		rule, err := r.rule()
		if err != nil {
			return nil, err
		}
		out = append(out, rule)
	}
	return out, nil
}

func activeRules(ctx context.Context, ext sqlx.ExtContext) ([]Rule, error) {
	return selectRules(ctx, ext, `SELECT `+ruleCols+` FROM lead_rules WHERE status = 'active' ORDER BY id`)
}

func getRule(ctx context.Context, ext sqlx.ExtContext, id int64) (Rule, error) {
	rs, err := selectRules(ctx, ext, `SELECT `+ruleCols+` FROM lead_rules WHERE id = ?`, id)
	if err != nil {
		return Rule{}, err
	}
	if len(rs) == 0 {
		return Rule{}, ErrRuleNotFound
	}
	return rs[0], nil
}

func insertRuleVersion(ctx context.Context, ext sqlx.ExtContext, r Rule, def string) error {
	_, err := ext.ExecContext(ctx, `INSERT INTO lead_rule_versions (rule_id, version, definition, created_by, created_at) VALUES (?, ?, ?, ?, ?)`,
		r.ID, r.Version, def, r.CreatedBy, db.Micros(r.UpdatedAt))
	if err != nil {
		return fmt.Errorf("leads: rule version: %w", err)
	}
	return nil
}
