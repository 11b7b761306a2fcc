package leads

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"rmref/internal/apperr"
	"rmref/internal/audit"
	"rmref/internal/auth"
	"rmref/internal/db"
)

// RuleInput creates or changes a rule.
type RuleInput struct {
	Code       string     `json:"code"`
	Name       string     `json:"name"`
	Status     string     `json:"status"`
	Definition Definition `json:"definition"`
}

func validateStatus(c *apperr.Collector, st string) {
	c.Check(!slices.Contains([]string{RuleDraft, RuleActive, RuleInactive}, st), "status", "must be draft, active or inactive")
}

// CreateRule stores version 1 of a new rule.
func (s *Service) CreateRule(ctx context.Context, actor string, in RuleInput) (Rule, error) {
	if in.Status == "" {
		in.Status = RuleDraft
	}
	var c apperr.Collector
	validateRuleHead(&c, in.Code, in.Name)
	validateStatus(&c, in.Status)
	if err := c.Err(); err != nil {
		return Rule{}, err
	}
	if err := in.Definition.Validate(); err != nil {
		return Rule{}, err
	}
	now := s.Clock.Now()
	def, _ := json.Marshal(in.Definition)
	r := Rule{Code: in.Code, Name: in.Name, Status: in.Status, Version: 1, Definition: in.Definition, CreatedBy: actor, CreatedAt: now, UpdatedAt: now}
	err := s.DB.WithTx(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO lead_rules (code, name, status, version, definition, created_by, created_at, updated_at) VALUES (?, ?, ?, 1, ?, ?, ?, ?)`,
			r.Code, r.Name, r.Status, string(def), actor, db.Micros(now), db.Micros(now))
		if s.DB.Dialect.IsUniqueViolation(err) {
			return ErrRuleCodeTaken
		}
		if err != nil {
			return fmt.Errorf("leads: create rule: %w", err)
		}
		r.ID, _ = res.LastInsertId()
		return s.ruleChanged(ctx, tx, r, string(def), "lead_rule.create")
	})
	return r, err
}

func (s *Service) ruleChanged(ctx context.Context, ext sqlx.ExtContext, r Rule, def, action string) error {
	if err := insertRuleVersion(ctx, ext, r, def); err != nil {
		return err
	}
	return audit.Record(ctx, ext, audit.Entry{At: r.UpdatedAt, Actor: r.CreatedBy, Action: action, EntityType: "lead_rule",
		EntityID: strconv.FormatInt(r.ID, 10), Detail: map[string]any{"version": r.Version, "status": r.Status, "definition": json.RawMessage(def)}})
}

// UpdateRule stores a new version of a rule (name, status and definition);
// leads keep the version that made them.
func (s *Service) UpdateRule(ctx context.Context, actor string, id int64, in RuleInput) (Rule, error) {
	var c apperr.Collector
	c.Check(in.Name == "" || len(in.Name) > 200, "name", "required, at most 200 characters")
	validateStatus(&c, in.Status)
	if err := c.Err(); err != nil {
		return Rule{}, err
	}
	if err := in.Definition.Validate(); err != nil {
		return Rule{}, err
	}
	var r Rule
	err := s.DB.WithTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		if r, err = getRule(ctx, tx, id); err != nil {
			return err
		}
		now := s.Clock.Now()
		def, _ := json.Marshal(in.Definition)
		res, err := tx.ExecContext(ctx, `UPDATE lead_rules SET name = ?, status = ?, version = version + 1, definition = ?, updated_at = ? WHERE id = ? AND version = ?`,
			in.Name, in.Status, string(def), db.Micros(now), id, r.Version)
		if err != nil {
			return fmt.Errorf("leads: update rule: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return apperr.Conflictf("concurrent_update", "the rule changed meanwhile; retry")
		}
		r.Name, r.Status, r.Definition, r.Version, r.UpdatedAt, r.CreatedBy = in.Name, in.Status, in.Definition, r.Version+1, now, actor
		return s.ruleChanged(ctx, tx, r, string(def), "lead_rule.update")
	})
	return r, err
}

// Rules lists the rules.
func (s *Service) Rules(ctx context.Context) ([]Rule, error) {
	return selectRules(ctx, s.DB, `SELECT `+ruleCols+` FROM lead_rules ORDER BY id`)
}

// Rule returns one rule.
func (s *Service) Rule(ctx context.Context, id int64) (Rule, error) { return getRule(ctx, s.DB, id) }

// DryRunResult says what a draft rule would have done over retained events.
type DryRunResult struct {
	From          time.Time `json:"from"`
	To            time.Time `json:"to"`
	EventsScanned int       `json:"events_scanned"`
	Triggers      int       `json:"triggers"`
	Leads         int       `json:"leads"`
	Customers     int       `json:"customers"`
}

// DryRun replays the retained events of the last days days through def and
// counts the leads it would have made: one per customer and product, again
// only after the cool-down of the previous one (counted from its trigger,
// as if closed at once). Nothing is stored.
func (s *Service) DryRun(ctx context.Context, def Definition, days int) (DryRunResult, error) {
	if days < 1 || days > 400 {
		return DryRunResult{}, apperr.Field("days", "must be 1 to 400")
	}
	if err := def.Validate(); err != nil {
		return DryRunResult{}, err
	}
	now := s.Clock.Now()
	res := DryRunResult{From: now.AddDate(0, 0, -days), To: now}
	evs, err := scanEvents(ctx, s.DB, res.From, now)
	if err != nil {
		return res, err
	}
	res.EventsScanned = len(evs)
	sim := newDryRun(def)
	for _, e := range evs {
		sim.add(e)
	}
	fires := sim.fires(now)
	return s.countDryLeads(ctx, def, fires, res)
}

func (s *Service) countDryLeads(ctx context.Context, def Definition, fires []dryFire, res DryRunResult) (DryRunResult, error) {
	res.Triggers = len(fires)
	last := map[string]time.Time{}
	customers := map[string]bool{}
	for _, f := range fires {
		a, has, err := attrs(ctx, s.DB, f.customer)
		if err != nil {
			return res, err
		}
		if !def.Filters.Matches(a, has) {
			continue
		}
		key := f.customer + "\x1f" + f.product
		if prev, ok := last[key]; ok && !f.at.After(cooldownEnd(prev, max(def.CooldownDays, 0), a.Location())) {
			continue
		}
		last[key] = f.at
		customers[f.customer] = true
		res.Leads++
	}
	res.Customers = len(customers)
	return res, nil
}

func scanEvents(ctx context.Context, ext sqlx.ExtContext, from, to time.Time) ([]EventIn, error) {
	var rows []struct {
		EventID    string `db:"event_id"`
		CustomerID string `db:"customer_id"`
		Kind       string `db:"kind"`
		Product    string `db:"product"`
		At         int64  `db:"occurred_at"`
		Dwell      int    `db:"dwell_seconds"`
	}
	if err := sqlx.SelectContext(ctx, ext, &rows, `SELECT event_id, customer_id, kind, product, occurred_at, dwell_seconds FROM lead_events
		WHERE occurred_at >= ? AND occurred_at <= ? AND customer_id <> '' ORDER BY occurred_at, id`, db.Micros(from), db.Micros(to)); err != nil {
		return nil, fmt.Errorf("leads: scan events: %w", err)
	}
	out := make([]EventIn, len(rows))
	for i, r := range rows {
		out[i] = EventIn{EventID: r.EventID, CustomerID: r.CustomerID, Kind: r.Kind, Product: r.Product, OccurredAt: db.FromMicros(r.At), DwellSeconds: r.Dwell}
	}
	return out, nil
}

// Settings returns the lead settings.
func (s *Service) Settings(ctx context.Context) (Settings, error) { return loadSettings(ctx, s.DB) }

// UpdateSettings replaces the lead settings.
func (s *Service) UpdateSettings(ctx context.Context, actor string, in Settings) (Settings, error) {
	if in.ChannelUnits == nil {
		in.ChannelUnits = map[string]int64{}
	}
	if err := in.Validate(); err != nil {
		return Settings{}, err
	}
	err := s.DB.WithTx(ctx, func(tx *sqlx.Tx) error {
		if err := s.checkUnits(ctx, tx, in); err != nil {
			return err
		}
		now := s.Clock.Now()
		if err := saveSettings(ctx, tx, s.DB.Dialect, in, now); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{At: now, Actor: actor, Action: "lead_settings.update", EntityType: "lead_settings", EntityID: "1", Detail: in})
	})
	return in, err
}

func (s *Service) checkUnits(ctx context.Context, ext sqlx.ExtContext, in Settings) error {
	check := func(field string, id int64) error {
		var n int
		if err := sqlx.GetContext(ctx, ext, &n, `SELECT COUNT(*) FROM org_units WHERE id = ?`, id); err != nil {
			return fmt.Errorf("leads: unit: %w", err)
		}
		if n == 0 {
			return apperr.Field(field, "no such unit")
		}
		return nil
	}
	if in.DefaultPoolUnitID != 0 {
		if err := check("default_pool_unit_id", in.DefaultPoolUnitID); err != nil {
			return err
		}
	}
	for ch, u := range in.ChannelUnits {
		if err := check("channel_units."+ch, u); err != nil {
			return err
		}
	}
	return nil
}

// Calendar returns the calendar that applies to a unit (own, inherited or default).
func (s *Service) Calendar(ctx context.Context, unitID int64) (Calendar, error) {
	var n int
	if err := s.DB.GetContext(ctx, &n, `SELECT COUNT(*) FROM org_units WHERE id = ?`, unitID); err != nil {
		return Calendar{}, fmt.Errorf("leads: unit: %w", err)
	}
	if n == 0 {
		return Calendar{}, apperr.NotFoundf("no such unit")
	}
	return calendarFor(ctx, s.DB, unitID)
}

// SetCalendar replaces a unit's own calendar (its subtree inherits it).
func (s *Service) SetCalendar(ctx context.Context, actor string, c Calendar) (Calendar, error) {
	if c.Overrides == nil {
		c.Overrides = []DayOverride{}
	}
	if err := c.Validate(); err != nil {
		return Calendar{}, err
	}
	if _, err := s.Calendar(ctx, c.UnitID); err != nil {
		return Calendar{}, err
	}
	err := s.DB.WithTx(ctx, func(tx *sqlx.Tx) error {
		now := s.Clock.Now()
		if err := saveCalendar(ctx, tx, s.DB.Dialect, c, now); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{At: now, Actor: actor, Action: "lead_calendar.set", EntityType: "org_unit", EntityID: strconv.FormatInt(c.UnitID, 10), Detail: c})
	})
	return c, err
}

// SetCapacity sets how many open leads a staff member may hold (0: takes
// no new leads). A manager sets it within their subtree, hq_admin anywhere.
func (s *Service) SetCapacity(ctx context.Context, p auth.Principal, staffID int64, capacity int) error {
	if capacity < 0 || capacity > 10000 {
		return apperr.Field("capacity", "must be 0 to 10000")
	}
	return s.DB.WithTx(ctx, func(tx *sqlx.Tx) error {
		st, err := staffByID(ctx, tx, staffID)
		prefix, ok := p.ScopePath()
		if err != nil || !ok || !strings.HasPrefix(st.Path, prefix) {
			return apperr.NotFoundf("no such staff member")
		}
		if !p.HasAny(auth.RoleManager, auth.RoleHQAdmin) {
			return apperr.Forbiddenf("only managers set lead capacity")
		}
		now := s.Clock.Now()
		q := `INSERT INTO lead_staff_capacity (staff_id, capacity, updated_at) VALUES (?, ?, ?) ` + s.DB.Dialect.Upsert([]string{"staff_id"}, []string{"capacity", "updated_at"})
		if _, err := tx.ExecContext(ctx, q, staffID, capacity, db.Micros(now)); err != nil {
			return fmt.Errorf("leads: capacity: %w", err)
		}
		return audit.Record(ctx, tx, audit.Entry{At: now, Actor: p.Actor(), Action: "lead_capacity.set", EntityType: "staff", EntityID: strconv.FormatInt(staffID, 10), Detail: map[string]int{"capacity": capacity}})
	})
}
