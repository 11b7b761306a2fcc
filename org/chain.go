package org

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"rmref/internal/db"
)

// Store is the org's SQL. Its methods take sqlx.ExtContext so that one
// method runs on the database or inside a caller's transaction.
type Store struct {
	dialect db.Dialect
}

// NewStore returns a store for the given dialect.
func NewStore(d db.Dialect) *Store { return &Store{dialect: d} }

const qAssignmentAt = `
SELECT unit_id FROM staff_assignments
WHERE staff_id = ? AND valid_from <= ? AND valid_to > ?
ORDER BY valid_from DESC LIMIT 1`

const qPathAt = `
SELECT path FROM unit_paths
WHERE unit_id = ? AND valid_from <= ? AND valid_to > ?
ORDER BY valid_from DESC LIMIT 1`

// A unit's first position also answers for instants before it was
// recorded (a staff assignment can only name a unit that exists, so this
// covers rows seeded with the same instant).
const qFirstPath = `SELECT path FROM unit_paths WHERE unit_id = ? ORDER BY valid_from LIMIT 1`

// ChainAt answers "which unit, and which chain of ancestors, was staff
// member staffID in at instant at". It is a system query (attribution
// stamps credits with it) and takes no principal. It returns
// ErrNoAssignment when the staff member had no unit then (before their
// first assignment); a staff member who left keeps their last unit.
func (s *Store) ChainAt(ctx context.Context, ext sqlx.ExtContext, staffID int64, at time.Time) (Chain, error) {
	us := db.Micros(at)
	var unitID int64
	if err := sqlx.GetContext(ctx, ext, &unitID, qAssignmentAt, staffID, us, us); err != nil {
		if errors.Is(err, db.ErrNoRows) {
			return Chain{}, ErrNoAssignment
		}
		return Chain{}, fmt.Errorf("org: chain of staff %d: %w", staffID, err)
	}
	path, err := s.unitPathAt(ctx, ext, unitID, us)
	if err != nil {
		return Chain{}, err
	}
	kinds, err := s.unitKinds(ctx, ext, PathIDs(path))
	if err != nil {
		return Chain{}, err
	}
	return chainOf(staffID, unitID, path, kinds), nil
}

// UnitPathAt returns unit id's materialised path at instant at.
func (s *Store) UnitPathAt(ctx context.Context, ext sqlx.ExtContext, unitID int64, at time.Time) (string, error) {
	return s.unitPathAt(ctx, ext, unitID, db.Micros(at))
}

func (s *Store) unitPathAt(ctx context.Context, ext sqlx.ExtContext, unitID, us int64) (string, error) {
	var path string
	err := sqlx.GetContext(ctx, ext, &path, qPathAt, unitID, us, us)
	if errors.Is(err, db.ErrNoRows) {
		err = sqlx.GetContext(ctx, ext, &path, qFirstPath, unitID)
	}
	if errors.Is(err, db.ErrNoRows) {
		return "", ErrUnitNotFound
	}
	if err != nil {
		return "", fmt.Errorf("org: path of unit %d: %w", unitID, err)
	}
	return path, nil
}

// unitKinds returns the kinds of the given units (kinds never change).
func (s *Store) unitKinds(ctx context.Context, ext sqlx.ExtContext, ids []int64) (map[int64]Kind, error) {
	out := make(map[int64]Kind, len(ids))
	for _, part := range chunks(ids, 500) {
		q, args, err := sqlx.In(`SELECT id, kind FROM org_units WHERE id IN (?)`, part)
		if err != nil {
			return nil, err
		}
		var rows []struct {
			ID   int64  `db:"id"`
			Kind string `db:"kind"`
		}
		if err := sqlx.SelectContext(ctx, ext, &rows, q, args...); err != nil {
			return nil, fmt.Errorf("org: unit kinds: %w", err)
		}
		for _, r := range rows {
			out[r.ID] = Kind(r.Kind)
		}
	}
	return out, nil
}

// chainOf fills a Chain from a path and the kinds of the units on it.
func chainOf(staffID, unitID int64, path string, kinds map[int64]Kind) Chain {
	c := Chain{StaffID: staffID, UnitID: unitID, Path: path}
	for _, id := range PathIDs(path) {
		switch kinds[id] {
		case KindHQ:
			c.HQID = id
		case KindRegion:
			c.RegionID = id
		case KindBranch:
			c.BranchID = id
		case KindSubbranch:
			c.SubbranchID = id
		case KindTeam:
			c.TeamID = id
		}
	}
	return c
}

type assignmentRow struct {
	StaffID int64 `db:"staff_id"`
	UnitID  int64 `db:"unit_id"`
}

type pathRow struct {
	UnitID int64  `db:"unit_id"`
	Path   string `db:"path"`
}

const qAssignmentsAt = `
SELECT staff_id, unit_id FROM staff_assignments
WHERE staff_id IN (?) AND valid_from <= ? AND valid_to > ?`

const qPathsAt = `
SELECT unit_id, path FROM unit_paths
WHERE unit_id IN (?) AND valid_from <= ? AND valid_to > ?`

// ChainsAt is the bulk form of ChainAt: the chains of many staff members
// at one instant, in a few queries. Staff members without a unit then are
// absent from the map.
func (s *Store) ChainsAt(ctx context.Context, ext sqlx.ExtContext, staffIDs []int64, at time.Time) (map[int64]Chain, error) {
	us := db.Micros(at)
	units := make(map[int64]int64, len(staffIDs))
	for _, part := range chunks(staffIDs, 500) {
		var rows []assignmentRow
		if err := selectIn(ctx, ext, &rows, qAssignmentsAt, part, us, us); err != nil {
			return nil, fmt.Errorf("org: chains: %w", err)
		}
		for _, r := range rows {
			units[r.StaffID] = r.UnitID
		}
	}
	paths, err := s.pathsAt(ctx, ext, distinct(units), us)
	if err != nil {
		return nil, err
	}
	var ids []int64
	for _, p := range paths {
		ids = append(ids, PathIDs(p)...)
	}
	kinds, err := s.unitKinds(ctx, ext, uniq(ids))
	if err != nil {
		return nil, err
	}
	out := make(map[int64]Chain, len(units))
	for staffID, unitID := range units {
		out[staffID] = chainOf(staffID, unitID, paths[unitID], kinds)
	}
	return out, nil
}

// pathsAt returns the paths of units at instant us (first path as fallback).
func (s *Store) pathsAt(ctx context.Context, ext sqlx.ExtContext, unitIDs []int64, us int64) (map[int64]string, error) {
	out := make(map[int64]string, len(unitIDs))
	for _, part := range chunks(unitIDs, 500) {
		var rows []pathRow
		if err := selectIn(ctx, ext, &rows, qPathsAt, part, us, us); err != nil {
			return nil, fmt.Errorf("org: paths: %w", err)
		}
		for _, r := range rows {
			out[r.UnitID] = r.Path
		}
	}
	for _, id := range unitIDs {
		if _, ok := out[id]; !ok {
			p, err := s.unitPathAt(ctx, ext, id, us)
			if err != nil {
				return nil, err
			}
			out[id] = p
		}
	}
	return out, nil
}

// selectIn runs a query whose first placeholder takes a list.
func selectIn(ctx context.Context, ext sqlx.ExtContext, dst any, q string, list any, args ...any) error {
	q, all, err := sqlx.In(q, append([]any{list}, args...)...)
	if err != nil {
		return err
	}
	return sqlx.SelectContext(ctx, ext, dst, ext.Rebind(q), all...)
}

func chunks[T any](xs []T, n int) [][]T {
	var out [][]T
	for len(xs) > n {
		out = append(out, xs[:n])
		xs = xs[n:]
	}
	if len(xs) > 0 {
		out = append(out, xs)
	}
	return out
}

func distinct(m map[int64]int64) []int64 {
	seen := make(map[int64]bool, len(m))
	var out []int64
	for _, v := range m {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

func uniq(xs []int64) []int64 {
	seen := make(map[int64]bool, len(xs))
	var out []int64
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// Placements is where every active staff member sits at one instant: the
// unit of each staff member placed in a unit and not gone, and the chain of
// each such unit (StaffID zero). Leaderboards count heads per unit from it.
type Placements struct {
	Units  map[int64]int64 // staff id → unit id
	Chains map[int64]Chain // unit id → chain of the unit
}

// Chain returns a placed staff member's chain.
func (p Placements) Chain(staffID int64) (Chain, bool) {
	u, ok := p.Units[staffID]
	if !ok {
		return Chain{}, false
	}
	c := p.Chains[u]
	c.StaffID = staffID
	return c, true
}

const qPlacementsAt = `
SELECT a.staff_id, a.unit_id FROM staff_assignments a JOIN staff s ON s.id = a.staff_id
WHERE a.valid_from <= ? AND a.valid_to > ? AND (s.left_at IS NULL OR s.left_at > ?)`

// PlacementsAt returns the placements of all active staff at instant at in
// one scan of the assignments and a query per 500 units.
func (s *Store) PlacementsAt(ctx context.Context, ext sqlx.ExtContext, at time.Time) (Placements, error) {
	us := db.Micros(at)
	var rows []assignmentRow
	if err := sqlx.SelectContext(ctx, ext, &rows, ext.Rebind(qPlacementsAt), us, us, us); err != nil {
		return Placements{}, fmt.Errorf("org: placements: %w", err)
	}
	p := Placements{Units: make(map[int64]int64, len(rows)), Chains: map[int64]Chain{}}
	for _, r := range rows {
		p.Units[r.StaffID] = r.UnitID
	}
	paths, err := s.pathsAt(ctx, ext, distinct(p.Units), us)
	if err != nil {
		return Placements{}, err
	}
	var ids []int64
	for _, path := range paths {
		ids = append(ids, PathIDs(path)...)
	}
	kinds, err := s.unitKinds(ctx, ext, uniq(ids))
	if err != nil {
		return Placements{}, err
	}
	for unitID, path := range paths {
		p.Chains[unitID] = chainOf(0, unitID, path, kinds)
	}
	return p, nil
}
