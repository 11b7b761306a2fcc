package org

import (
	"context"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"

	"rmref/internal/apperr"
	"rmref/internal/audit"
	"rmref/internal/auth"
	"rmref/internal/clock"
	"rmref/internal/db"
	"rmref/internal/pii"
)

// futureSkew is how far ahead of the clock an effective time may be (API.md).
const futureSkew = 5 * time.Minute

// Service applies the org's rules: who may change what, tree shape,
// effective-dated transfers and moves. Every change is audited in its
// transaction.
type Service struct {
	DB    *db.DB
	Store *Store
	Clock clock.Clock
	PII   *pii.Hasher
	Loc   *time.Location // zone of HR dates (left_on)
}

// NewService returns the org service.
func NewService(d *db.DB, clk clock.Clock, h *pii.Hasher, loc *time.Location) *Service {
	if loc == nil {
		loc = time.UTC
	}
	return &Service{DB: d, Store: NewStore(d.Dialect), Clock: clk, PII: h, Loc: loc}
}

// NewUnit is the input of CreateUnit.
type NewUnit struct {
	Kind        Kind       `json:"kind"`
	Code        string     `json:"code"`
	Name        string     `json:"name"`
	ParentID    int64      `json:"parent_id,string"`
	EffectiveAt *time.Time `json:"effective_at"`
}

// Validate checks the fields of n.
func (n NewUnit) Validate() error {
	var c apperr.Collector
	c.Check(!ValidKind(n.Kind), "kind", "must be one of hq, region, branch, subbranch, team")
	checkCode(&c, "code", n.Code)
	checkName(&c, "name", n.Name)
	c.Check(n.Kind != KindHQ && ValidKind(n.Kind) && n.ParentID <= 0, "parent_id", "is required for a "+string(n.Kind))
	c.Check(n.Kind == KindHQ && n.ParentID > 0, "parent_id", "must be empty for the hq root")
	return c.Err()
}

func checkCode(c *apperr.Collector, field, v string) {
	c.Check(strings.TrimSpace(v) == "" || len(v) > 64 || strings.TrimSpace(v) != v, field, "must be 1 to 64 characters without surrounding spaces")
}

func checkName(c *apperr.Collector, field, v string) {
	c.Check(strings.TrimSpace(v) == "" || utf8.RuneCountInString(v) > 100, field, "must be 1 to 100 characters")
}

// effective returns the instant a change takes effect: at, or now.
func (s *Service) effective(at *time.Time) (now, eff time.Time, err error) {
	now = s.Clock.Now()
	if at == nil {
		return now, now, nil
	}
	if at.After(now.Add(futureSkew)) {
		return now, time.Time{}, ErrFutureTime
	}
	return now, at.UTC(), nil
}

// CreateUnit creates a unit (hq_admin only).
func (s *Service) CreateUnit(ctx context.Context, p auth.Principal, n NewUnit) (Unit, error) {
	if err := n.Validate(); err != nil {
		return Unit{}, err
	}
	now, eff, err := s.effective(n.EffectiveAt)
	if err != nil {
		return Unit{}, err
	}
	var out Unit
	err = s.DB.WithTx(ctx, func(tx *sqlx.Tx) error {
		parent, err := s.parentFor(ctx, tx, p, n)
		if err != nil {
			return err
		}
		if out, err = s.Store.insertUnit(ctx, tx, Unit{Kind: n.Kind, Code: n.Code, Name: n.Name}, parent, eff, now); err != nil {
			return err
		}
		return s.audit(ctx, tx, p, "unit.create", "org_unit", out.ID, out)
	})
	return out, err
}

// parentFor checks that p may create n under its parent and returns the
// parent (zero for the root).
func (s *Service) parentFor(ctx context.Context, ext sqlx.ExtContext, p auth.Principal, n NewUnit) (Unit, error) {
	if n.Kind == KindHQ {
		if !p.WritesAll() {
			return Unit{}, ErrReadOnly
		}
		root, err := s.Store.hasRoot(ctx, ext)
		if err == nil && root {
			err = ErrSecondRoot
		}
		return Unit{}, err
	}
	parent, err := s.Store.GetUnit(ctx, ext, p, n.ParentID)
	if err != nil {
		return Unit{}, orMissing(err, "parent_id")
	}
	if !p.WritesAll() {
		return Unit{}, ErrReadOnly
	}
	if !CanParent(parent.Kind, n.Kind) {
		return Unit{}, apperr.Field("parent_id", "a "+string(n.Kind)+" must sit under one of: "+parentKindsText(n.Kind))
	}
	return parent, nil
}

// UnitUpdate is the input of UpdateUnit; nil fields stay.
type UnitUpdate struct {
	Name *string `json:"name"`
}

// UpdateUnit renames a unit (hq_admin only).
func (s *Service) UpdateUnit(ctx context.Context, p auth.Principal, id int64, up UnitUpdate) (Unit, error) {
	var c apperr.Collector
	if up.Name != nil {
		checkName(&c, "name", *up.Name)
	}
	if err := c.Err(); err != nil {
		return Unit{}, err
	}
	var out Unit
	err := s.DB.WithTx(ctx, func(tx *sqlx.Tx) error {
		u, err := s.writableUnit(ctx, tx, p, id)
		if err != nil || up.Name == nil || *up.Name == u.Name {
			out = u
			return err
		}
		now := s.Clock.Now()
		if err := s.Store.renameUnit(ctx, tx, id, *up.Name, now); err != nil {
			return err
		}
		before := u.Name
		u.Name, u.UpdatedAt = *up.Name, now
		out = u
		return s.audit(ctx, tx, p, "unit.update", "org_unit", id, map[string]any{"name": map[string]string{"from": before, "to": u.Name}})
	})
	return out, err
}

func (s *Service) writableUnit(ctx context.Context, ext sqlx.ExtContext, p auth.Principal, id int64) (Unit, error) {
	u, err := s.Store.GetUnit(ctx, ext, p, id)
	if err != nil {
		return Unit{}, err
	}
	if !p.WritesAll() {
		return Unit{}, ErrReadOnly
	}
	return u, nil
}

// MoveUnit puts a unit and its whole subtree under a new parent from
// effectiveAt (default now), keeping the history of where each unit sat.
func (s *Service) MoveUnit(ctx context.Context, p auth.Principal, id, parentID int64, effectiveAt *time.Time) (Unit, error) {
	now, eff, err := s.effective(effectiveAt)
	if err != nil {
		return Unit{}, err
	}
	var out Unit
	err = s.DB.WithTx(ctx, func(tx *sqlx.Tx) error {
		u, err := s.Store.GetUnit(ctx, tx, p, id)
		if err != nil {
			return err
		}
		parent, err := s.Store.GetUnit(ctx, tx, p, parentID)
		if err != nil {
			return orMissing(err, "parent_id")
		}
		if !p.WritesAll() {
			return ErrReadOnly
		}
		if err := s.checkMove(ctx, tx, u, parent, eff); err != nil || u.ParentID == parent.ID {
			out = u
			return err
		}
		if out, err = s.Store.moveUnit(ctx, tx, u, parent, eff, now); err != nil {
			return err
		}
		return s.audit(ctx, tx, p, "unit.move", "org_unit", id, map[string]any{
			"from_parent_id": strconv.FormatInt(u.ParentID, 10), "to_parent_id": strconv.FormatInt(parent.ID, 10),
			"from_path": u.Path, "to_path": out.Path, "effective_at": eff})
	})
	return out, err
}

func (s *Service) checkMove(ctx context.Context, ext sqlx.ExtContext, u, parent Unit, eff time.Time) error {
	if strings.HasPrefix(parent.Path, u.Path) {
		return ErrCycle
	}
	if !CanParent(parent.Kind, u.Kind) {
		return apperr.Field("parent_id", "a "+string(u.Kind)+" must sit under one of: "+parentKindsText(u.Kind))
	}
	latest, err := s.Store.latestSubtreeChange(ctx, ext, u.Path)
	if err == nil && eff.Before(latest) {
		err = ErrBackdated
	}
	return err
}

// audit records one change by p in tx.
func (s *Service) audit(ctx context.Context, ext sqlx.ExtContext, p auth.Principal, action, entity string, id int64, detail any) error {
	return audit.Record(ctx, ext, audit.Entry{At: s.Clock.Now(), Actor: p.Actor(), Action: action,
		EntityType: entity, EntityID: strconv.FormatInt(id, 10), Detail: detail})
}

// ListUnits lists the units p may see.
func (s *Service) ListUnits(ctx context.Context, p auth.Principal, f UnitFilter) ([]Unit, int64, error) {
	return s.Store.ListUnits(ctx, s.DB, p, f)
}

// GetUnit returns a unit p may see.
func (s *Service) GetUnit(ctx context.Context, p auth.Principal, id int64) (Unit, error) {
	return s.Store.GetUnit(ctx, s.DB, p, id)
}

// UnitHistory returns where a unit p may see has sat over time.
func (s *Service) UnitHistory(ctx context.Context, p auth.Principal, id int64) ([]PathEntry, error) {
	return s.Store.UnitHistory(ctx, s.DB, p, id)
}

// UnitStaff lists the staff p may see in unit id (its whole subtree when
// recursive). The unit itself must be visible to p.
func (s *Service) UnitStaff(ctx context.Context, p auth.Principal, id int64, recursive bool, f StaffFilter) ([]Staff, int64, error) {
	u, err := s.Store.GetUnit(ctx, s.DB, p, id)
	if err != nil {
		return nil, 0, err
	}
	if recursive {
		f.Under = u.Path
	} else {
		f.UnitID = u.ID
	}
	return s.Store.ListStaff(ctx, s.DB, p, f)
}

// orMissing turns a unit lookup's NotFound into a 404 naming the input
// field that refers to something the caller cannot see (or that does not
// exist: never reveal which); other errors pass through.
func orMissing(err error, field string) error {
	if apperr.KindOf(err) != apperr.NotFound {
		return err
	}
	msg := "no such org unit"
	return &apperr.Error{Kind: apperr.NotFound, Type: "not_found", Detail: msg, Fields: []apperr.FieldError{{Field: field, Message: msg}}}
}
