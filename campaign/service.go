package campaign

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"rmref/internal/apperr"
	"rmref/internal/audit"
	"rmref/internal/auth"
	"rmref/internal/clock"
	"rmref/internal/db"
)

// Service applies the campaign rules: validation, the status machine, read
// and write scope, and an audit entry for every change.
type Service struct {
	db           *db.DB
	clock        clock.Clock
	landingHosts []string
}

// NewService returns a service; landingHosts is the landing URL host
// allow-list (config LandingHosts).
func NewService(d *db.DB, clk clock.Clock, landingHosts []string) *Service {
	return &Service{db: d, clock: clk, landingHosts: landingHosts}
}

// Patch holds the fields of a create or update; nil fields are left as
// they are (on create: the defaults).
type Patch struct {
	Code           *string
	Name           *string
	Description    *string
	StartAt        *time.Time
	EndAt          *time.Time
	Timezone       *string
	LandingURL     *string
	UnitIDs        *[]int64
	Conversions    *[]ConversionRule
	LookbackDays   *int
	Model          *Model
	HalfLifeDays   *int
	ProtectionDays *int
	HoldingDays    *int
	FreezeAt       *time.Time // the zero time clears it
}

// Filter selects campaigns in a list.
type Filter struct {
	Status *Status
	Before int64 // cursor: campaigns with a smaller id (newest first)
	Limit  int
}

// Create validates and stores a new draft campaign.
func (s *Service) Create(ctx context.Context, p auth.Principal, in Patch) (Campaign, error) {
	if !CanWrite(p) {
		return Campaign{}, apperr.Forbiddenf("only campaign managers and HQ admins create campaigns")
	}
	now := s.clock.Now()
	c := Campaign{Status: StatusDraft, Timezone: DefaultTimezone, HoldingDays: DefaultHoldingDays,
		Attribution: Attribution{LookbackDays: DefaultLookbackDays, Model: DefaultModel,
			HalfLifeDays: DefaultHalfLifeDays, ProtectionDays: DefaultProtectionDays},
		CreatedAt: now, UpdatedAt: now}
	var id int64
	err := s.withTx(ctx, func(tx *sqlx.Tx) error {
		if err := s.apply(ctx, tx, p, &c, in, true); err != nil {
			return err
		}
		var err error
		if id, err = insert(ctx, tx, s.db.Dialect, c); err != nil {
			return err
		}
		c.ID = id
		return record(ctx, tx, p, now, "campaign.create", id, map[string]any{"after": c})
	})
	if err != nil {
		return Campaign{}, err
	}
	return s.Get(ctx, p, id)
}

// Update applies a patch to a campaign the caller may write. Ended
// campaigns are not edited (409 campaign_ended).
func (s *Service) Update(ctx context.Context, p auth.Principal, id int64, in Patch) (Campaign, error) {
	now := s.clock.Now()
	err := s.withTx(ctx, func(tx *sqlx.Tx) error {
		before, err := s.writable(ctx, tx, p, id)
		if err != nil {
			return err
		}
		if before.CurrentStatus(now) == StatusEnded {
			return apperr.Conflictf("campaign_ended", "an ended campaign cannot be edited")
		}
		after := before
		if err := s.apply(ctx, tx, p, &after, in, false); err != nil {
			return err
		}
		after.UpdatedAt = now
		if err := update(ctx, tx, s.db.Dialect, after); err != nil {
			return err
		}
		return record(ctx, tx, p, now, "campaign.update", id, map[string]any{"before": before, "after": after})
	})
	if err != nil {
		return Campaign{}, err
	}
	return s.Get(ctx, p, id)
}

// Transition moves a campaign to status to by an explicit action
// (activate, pause, end). Anything but draft → active, active ⇄ paused
// and active|paused → ended is 409 invalid_transition.
func (s *Service) Transition(ctx context.Context, p auth.Principal, id int64, to Status) (Campaign, error) {
	now := s.clock.Now()
	err := s.withTx(ctx, func(tx *sqlx.Tx) error {
		c, err := s.writable(ctx, tx, p, id)
		if err != nil {
			return err
		}
		from := c.CurrentStatus(now)
		if !CanTransition(from, to) {
			return apperr.Conflictf(ErrInvalidTransition.Type, "cannot go from %s to %s", from, to)
		}
		if to == StatusActive && !now.Before(c.EndAt) {
			return ErrCampaignOver
		}
		var endedAt time.Time
		if to == StatusEnded {
			endedAt = now
		}
		won, err := setStatus(ctx, tx, id, c.Status, to, endedAt, now)
		if err != nil {
			return err
		}
		if !won {
			return apperr.Conflictf(ErrInvalidTransition.Type, "the campaign's status changed meanwhile")
		}
		return record(ctx, tx, p, now, "campaign."+verb(to), id, map[string]any{"from": from, "to": to})
	})
	if err != nil {
		return Campaign{}, err
	}
	return s.Get(ctx, p, id)
}

func verb(to Status) string {
	switch to {
	case StatusActive:
		return "activate"
	case StatusPaused:
		return "pause"
	}
	return "end"
}

// Get returns a campaign the caller may read (others: ErrNotFound), after
// persisting an automatic end that is due.
func (s *Service) Get(ctx context.Context, p auth.Principal, id int64) (Campaign, error) {
	c, err := Get(ctx, s.db, id)
	if err != nil {
		return Campaign{}, err
	}
	if !CanRead(p, c) {
		return Campaign{}, ErrNotFound
	}
	return s.settle(ctx, c)
}

// List returns the campaigns the caller may read, newest first, the cursor
// of the next page (0: none) and the total matching the filter.
func (s *Service) List(ctx context.Context, p auth.Principal, f Filter) ([]Campaign, int64, int64, error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	if err := s.SettleDue(ctx); err != nil {
		return nil, 0, 0, err
	}
	cs, total, err := listVisible(ctx, s.db, p, f)
	if err != nil {
		return nil, 0, 0, err
	}
	var next int64
	if len(cs) > f.Limit {
		cs = cs[:f.Limit]
		next = cs[len(cs)-1].ID
	}
	return cs, next, total, nil
}

// SettleDue persists the automatic end of every active or paused campaign
// whose end time has passed, each with an audit entry by "system".
func (s *Service) SettleDue(ctx context.Context) error {
	ids, err := dueToEnd(ctx, s.db, s.clock.Now())
	if err != nil {
		return err
	}
	for _, id := range ids {
		c, err := Get(ctx, s.db, id)
		if err != nil {
			return err
		}
		if _, err := s.settle(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

// settle persists c's automatic end when it is due and returns c as it
// stands now.
func (s *Service) settle(ctx context.Context, c Campaign) (Campaign, error) {
	now := s.clock.Now()
	if c.CurrentStatus(now) == c.Status {
		return c, nil
	}
	from := c.Status
	err := s.withTx(ctx, func(tx *sqlx.Tx) error {
		won, err := setStatus(ctx, tx, c.ID, from, StatusEnded, c.EndAt, now)
		if err != nil || !won {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{At: now, Actor: "system", Action: "campaign.auto_end",
			EntityType: "campaign", EntityID: formatID(c.ID), Detail: map[string]any{"from": from, "to": StatusEnded, "end_at": c.EndAt}})
	})
	if err != nil {
		return Campaign{}, err
	}
	c.Status, c.EndedAt = StatusEnded, c.EndAt
	return c, nil
}

func record(ctx context.Context, ext sqlx.ExtContext, p auth.Principal, at time.Time, action string, id int64, detail any) error {
	return audit.Record(ctx, ext, audit.Entry{At: at, Actor: p.Actor(), Action: action,
		EntityType: "campaign", EntityID: formatID(id), Detail: detail})
}

// apply sets in's fields on c, resolves the units, and validates the result
// (create: the required fields must be present).
func (s *Service) apply(ctx context.Context, ext sqlx.ExtContext, p auth.Principal, c *Campaign, in Patch, create bool) error {
	var ec apperr.Collector
	if create {
		ec.Check(in.Code == nil, "code", "is required")
		ec.Check(in.Name == nil, "name", "is required")
		ec.Check(in.StartAt == nil, "start_at", "is required")
		ec.Check(in.EndAt == nil, "end_at", "is required")
		ec.Check(in.LandingURL == nil, "landing_url", "is required")
		ec.Check(in.UnitIDs == nil, "unit_ids", "is required")
		ec.Check(in.Conversions == nil, "conversion_types", "is required")
		if err := ec.Err(); err != nil {
			return err
		}
	}
	applyFields(c, in)
	if in.UnitIDs != nil {
		units, err := resolveUnits(ctx, ext, *in.UnitIDs, &ec)
		if err != nil {
			return err
		}
		c.Units = units
	}
	c.Validate(&ec, s.landingHosts)
	if err := ec.Err(); err != nil {
		return err
	}
	if !p.WritesAll() && !unitsWithin(c.Units, p.UnitPath) {
		return apperr.Forbiddenf("participating units must lie within your part of the organisation")
	}
	return nil
}

func applyFields(c *Campaign, in Patch) {
	set(&c.Code, in.Code)
	c.Code = NormalizeCode(c.Code)
	set(&c.Name, in.Name)
	set(&c.Description, in.Description)
	set(&c.StartAt, in.StartAt)
	set(&c.EndAt, in.EndAt)
	set(&c.Timezone, in.Timezone)
	set(&c.LandingURL, in.LandingURL)
	set(&c.Conversions, in.Conversions)
	set(&c.Attribution.LookbackDays, in.LookbackDays)
	set(&c.Attribution.Model, in.Model)
	set(&c.Attribution.HalfLifeDays, in.HalfLifeDays)
	set(&c.Attribution.ProtectionDays, in.ProtectionDays)
	set(&c.HoldingDays, in.HoldingDays)
	set(&c.FreezeAt, in.FreezeAt)
	c.StartAt, c.EndAt, c.FreezeAt = c.StartAt.UTC(), c.EndAt.UTC(), c.FreezeAt.UTC()
}

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// MaxUnits bounds the participating units of one campaign.
const MaxUnits = 500

func resolveUnits(ctx context.Context, ext sqlx.ExtContext, ids []int64, ec *apperr.Collector) ([]Unit, error) {
	if len(ids) == 0 || len(ids) > MaxUnits {
		ec.Add("unit_ids", fmt.Sprintf("must list 1 to %d org units", MaxUnits))
		return nil, nil
	}
	found, err := unitsByID(ctx, ext, ids)
	if err != nil {
		return nil, err
	}
	seen := map[int64]bool{}
	var out []Unit
	for i, id := range ids {
		u, ok := found[id]
		switch {
		case !ok:
			ec.Add(fmt.Sprintf("unit_ids[%d]", i), "no such org unit")
		case seen[id]:
			ec.Add(fmt.Sprintf("unit_ids[%d]", i), "is listed twice")
		default:
			out = append(out, u)
		}
		seen[id] = true
	}
	return out, nil
}

const unitsByIDQuery = `SELECT id, path, name FROM org_units WHERE id IN (?)`

func unitsByID(ctx context.Context, ext sqlx.ExtContext, ids []int64) (map[int64]Unit, error) {
	q, args, err := sqlx.In(unitsByIDQuery, ids)
	if err != nil {
		return nil, fmt.Errorf("campaign: units by id: %w", err)
	}
	var rs []Unit
	if err := sqlx.SelectContext(ctx, ext, &rs, ext.Rebind(q), args...); err != nil {
		return nil, fmt.Errorf("campaign: units by id: %w", err)
	}
	out := make(map[int64]Unit, len(rs))
	for _, u := range rs {
		out[u.ID] = u
	}
	return out, nil
}

// withTx runs fn in a transaction and runs it again when the database
// reports a deadlock or lock timeout (concurrent writers of one campaign on
// MySQL): the retry sees the winner's change and decides afresh.
func (s *Service) withTx(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	return db.Retry(ctx, func() error { return s.db.WithTx(ctx, fn) })
}
