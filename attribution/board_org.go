package attribution

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"sync"
	"time"

	"rmref/internal/db"
	"rmref/org"
)

// orgCache keeps what a board needs from the org tables — where every
// active staff member sits at the board's end, head counts per unit and
// the names of staff and units — for BoardCacheTTL. These change with org
// moves, not with credits, so a board after a new conversion does not
// re-read 200,000 placements. A placement older than half the TTL is
// rebuilt in the background while the current one serves.
type orgCache struct {
	mu      sync.Mutex
	entries map[int64]*placementEntry // key: end instant (µs); 0 = now
	names   *nameEntry
	nameMu  sync.Mutex

	namesRefreshing bool
}

type placementEntry struct {
	mu         sync.Mutex
	built      time.Time // board clock
	p          org.Placements
	heads      map[headsKey]map[int64]int64
	refreshing bool
}

type headsKey struct {
	campaign int64
	units    string // the campaign's participating unit paths
	level    string
	scope    string
}

type nameEntry struct {
	built time.Time
	staff map[int64]string
	units map[int64]string
}

func fresh(built, now time.Time) bool {
	return !now.Before(built) && now.Sub(built) < BoardCacheTTL
}

// placements returns the placements at the window's end.
func (b *Boards) placements(ctx context.Context, w window) (*placementEntry, error) {
	key := int64(0)
	if !w.open {
		key = db.Micros(w.end)
	}
	oc := b.orgc
	oc.mu.Lock()
	if oc.entries == nil {
		oc.entries = map[int64]*placementEntry{}
	}
	e, ok := oc.entries[key]
	if !ok {
		if len(oc.entries) >= 8 {
			oc.entries = map[int64]*placementEntry{}
		}
		e = &placementEntry{}
		oc.entries[key] = e
	}
	oc.mu.Unlock()

	e.mu.Lock()
	defer e.mu.Unlock()
	now := b.Clock.Now()
	if e.p.Units != nil && fresh(e.built, now) {
		if w.open && now.Sub(e.built) > BoardCacheTTL/2 && !e.refreshing {
			e.refreshing = true
			go b.rebuildPlacements(e)
		}
		return e, nil
	}
	p, err := b.Org.PlacementsAt(ctx, b.DB, w.end)
	if err != nil {
		return nil, err
	}
	e.p, e.built, e.heads = p, now, map[headsKey]map[int64]int64{}
	return e, nil
}

// rebuildPlacements refreshes an open placement in the background.
func (b *Boards) rebuildPlacements(e *placementEntry) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	now := b.Clock.Now()
	p, err := b.Org.PlacementsAt(ctx, b.DB, now)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.refreshing = false
	if err == nil {
		e.p, e.built, e.heads = p, now, map[headsKey]map[int64]int64{}
	}
}

// headsCached counts active participating staff in scope per key of level
// from the cached placements; built is when those placements were read.
func (b *Boards) headsCached(ctx context.Context, w window, level string) (heads map[int64]int64, pe *placementEntry, built time.Time, err error) {
	e, err := b.placements(ctx, w)
	if err != nil {
		return nil, nil, time.Time{}, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	k := headsKey{campaign: w.camp.ID, units: strings.Join(w.camp.UnitPaths, ","), level: level, scope: w.scopePath}
	if h, ok := e.heads[k]; ok {
		return h, e, e.built, nil
	}
	counts := map[int64]bool{} // unit → counts in this board
	for unitID, ch := range e.p.Chains {
		counts[unitID] = w.camp.Participates(ch.Path) && strings.HasPrefix(ch.Path, w.scopePath)
	}
	h := map[int64]int64{}
	for staffID, unitID := range e.p.Units {
		if !counts[unitID] {
			continue
		}
		if key := levelKey(level, chainFrom(e.p.Chains[unitID]), staffID); key != 0 {
			h[key]++
		}
	}
	e.heads[k] = h
	return h, e, e.built, nil
}

// chainsAtEnd returns the chains of staff members at the window's end:
// from the placements where the staff member is placed, from the history
// for the others (staff who left keep the chain of their last unit).
func (b *Boards) chainsAtEnd(ctx context.Context, w window, pe *placementEntry, ids []int64) (map[int64]org.Chain, error) {
	out := make(map[int64]org.Chain, len(ids))
	var rest []int64
	pe.mu.Lock()
	for _, id := range ids {
		if ch, ok := pe.p.Chain(id); ok {
			out[id] = ch
		} else {
			rest = append(rest, id)
		}
	}
	pe.mu.Unlock()
	if len(rest) == 0 {
		return out, nil
	}
	more, err := b.Org.ChainsAt(ctx, b.DB, rest, w.end)
	if err != nil {
		return nil, err
	}
	for id, ch := range more {
		out[id] = ch
	}
	return out, nil
}

// namesCached returns a map holding the names of staff members (or
// units) with the ids, from a cache of all names that is refreshed in the
// background after half of BoardCacheTTL and read again after all of it.
// The map returned is shared: read it, never write it.
func (b *Boards) namesCached(ctx context.Context, level string, ids []int64) (map[int64]string, error) {
	oc := b.orgc
	oc.nameMu.Lock()
	defer oc.nameMu.Unlock()
	now := b.Clock.Now()
	if oc.names == nil || !fresh(oc.names.built, now) {
		n, err := b.readNames(ctx, now)
		if err != nil {
			return nil, err
		}
		oc.names = n
	} else if now.Sub(oc.names.built) > BoardCacheTTL/2 && !oc.namesRefreshing {
		oc.namesRefreshing = true
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			n, err := b.readNames(ctx, now)
			oc.nameMu.Lock()
			defer oc.nameMu.Unlock()
			oc.namesRefreshing = false
			if err == nil {
				oc.names = n
			}
		}()
	}
	all := oc.names.units
	if level == LevelStaff {
		all = oc.names.staff
	}
	var missing []int64
	for _, id := range ids {
		if _, ok := all[id]; !ok {
			missing = append(missing, id)
		}
	}
	if len(missing) == 0 {
		return all, nil
	}
	more, err := b.Store.names(ctx, b.DB, level, missing)
	if err != nil {
		return nil, err
	}
	// Copy on write: earlier callers may still be reading the old map.
	grown := maps.Clone(all)
	maps.Copy(grown, more)
	n := *oc.names
	if level == LevelStaff {
		n.staff = grown
	} else {
		n.units = grown
	}
	oc.names = &n
	return grown, nil
}

// readNames reads the names of all staff and units.
func (b *Boards) readNames(ctx context.Context, now time.Time) (*nameEntry, error) {
	n := &nameEntry{built: now, staff: map[int64]string{}, units: map[int64]string{}}
	for _, src := range []struct {
		table string
		into  map[int64]string
	}{{"staff", n.staff}, {"org_units", n.units}} {
		rows, err := b.DB.QueryContext(ctx, `SELECT id, name FROM `+src.table)
		if err != nil {
			return nil, fmt.Errorf("attribution: names: %w", err)
		}
		for rows.Next() {
			var id int64
			var name string
			if err := rows.Scan(&id, &name); err != nil {
				rows.Close()
				return nil, fmt.Errorf("attribution: names: %w", err)
			}
			src.into[id] = name
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("attribution: names: %w", err)
		}
	}
	return n, nil
}
