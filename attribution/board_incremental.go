package attribution

import (
	"context"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"rmref/internal/db"
)

// A staff board after a new conversion differs from the previous one in a
// handful of entries: those of the staff members whose credits, clicks or
// shares changed. Rather than rebuild 200,000 entries, the staff board is
// updated: the changed entries are recomputed from the mirror and merged
// into the previous board's order. Anything else that could move figures —
// the placements (org moves), the campaign's units, the window, a frozen
// board, a change log that no longer reaches back — rebuilds the board.

// boardMeta is what a computed board was built from.
type boardMeta struct {
	ok      bool  // computed from the caches
	seq     int64 // the campaign mirror's change counter
	pe      *placementEntry
	peBuilt time.Time
	units   string // the campaign's participating unit paths
	scope   string
}

// maxIncremental is the most changed staff members merged into a board;
// beyond it a rebuild is as cheap.
const maxIncremental = 2000

// incrementals counts staff boards updated rather than rebuilt (tests).
var incrementals atomic.Int64

// incremental updates prev, the staff board of the same query computed
// before; ok is false when it cannot (the caller rebuilds).
func (b *Boards) incremental(ctx context.Context, w window, q BoardQuery, prev *Board) ([]BoardEntry, boardMeta, bool, error) {
	heads, pe, built, err := b.headsCached(ctx, w, LevelStaff)
	if err != nil {
		return nil, boardMeta{}, false, err
	}
	meta := boardMeta{ok: true, pe: pe, peBuilt: built, units: strings.Join(w.camp.UnitPaths, ","), scope: w.scopePath}
	m := prev.meta
	if !m.ok || m.pe != meta.pe || !m.peBuilt.Equal(meta.peBuilt) || m.units != meta.units || m.scope != meta.scope ||
		prev.From != w.from || prev.To != w.to || prev.Frozen {
		return nil, boardMeta{}, false, nil
	}
	cm := b.mirror.campaign(w.camp.ID)
	cm.mu.Lock()
	if err := cm.refresh(ctx, b, w.camp.ID); err != nil {
		cm.mu.Unlock()
		return nil, boardMeta{}, false, err
	}
	staff, ok := cm.changedSince(m.seq)
	if !ok || len(staff) > maxIncremental {
		cm.mu.Unlock()
		return nil, boardMeta{}, false, nil
	}
	meta.seq = cm.seq
	figs := b.staffFigures(w, cm, staff)
	cm.mu.Unlock()

	// Clicks and shares count under the staff member's chain at the end.
	var refIDs []int64
	for _, f := range figs {
		if f.hasRef {
			refIDs = append(refIDs, f.e.ID)
		}
	}
	chains, err := b.chainsAtEnd(ctx, w, pe, refIDs)
	if err != nil {
		return nil, boardMeta{}, false, err
	}
	changed := make(map[int64]bool, len(staff))
	var fresh []*BoardEntry
	var ids []int64
	for _, f := range figs {
		changed[f.e.ID] = true
		e := &f.e
		if f.hasRef {
			if keyAtEnd(chains, LevelStaff, w.scopePath, e.ID) != 0 {
				e.reach(f.refReached)
			} else {
				e.Clicks, e.Shares, e.Visitors, f.hasRef = 0, 0, 0, false
			}
		}
		if heads[e.ID] == 0 && !f.hasCredit && !f.hasRef {
			continue // no longer on the board
		}
		fresh = append(fresh, e)
		ids = append(ids, e.ID)
	}
	names, err := b.namesCached(ctx, LevelStaff, ids)
	if err != nil {
		return nil, boardMeta{}, false, err
	}
	for _, e := range fresh {
		e.Name = names[e.ID]
		e.Conversions = float64(e.weight) / WeightScale
		e.exact = exactValue(*e, q)
		if v, ok := displayValue(e.exact, q.Metric); ok {
			e.Value = &v
		}
		if e.reached > 0 {
			at := db.FromMicros(e.reached).UTC()
			e.ReachedAt = &at
		}
	}
	slices.SortFunc(fresh, func(a, b *BoardEntry) int { return orderEntries(a, b) })
	out := make([]BoardEntry, 0, len(prev.Entries)+len(fresh))
	i := 0
	for k := range prev.Entries {
		old := &prev.Entries[k]
		if changed[old.ID] {
			continue
		}
		for i < len(fresh) && orderEntries(fresh[i], old) < 0 {
			out = append(out, *fresh[i])
			i++
		}
		out = append(out, *old)
	}
	for ; i < len(fresh); i++ {
		out = append(out, *fresh[i])
	}
	for k := range out {
		var before *BoardEntry
		if k > 0 {
			before = &out[k-1]
		}
		out[k].Rank = competitionRank(before, &out[k], k)
	}
	incrementals.Add(1)
	return out, meta, true, nil
}

func orderEntries(a, b *BoardEntry) int {
	return order(&rankKey{v: a.exact, reached: a.reached, id: a.ID}, &rankKey{v: b.exact, reached: b.reached, id: b.ID})
}

// staffFigure is one staff member's figures in a window, before the
// chain check of their clicks and shares.
type staffFigure struct {
	e                 BoardEntry
	hasCredit, hasRef bool
	refReached        int64
}

// staffFigures computes the staff members' figures from the mirror (the
// caller holds cm.mu): what fromMirror adds for them on a staff board.
func (b *Boards) staffFigures(w window, cm *campMirror, staff []int64) []staffFigure {
	from, to := dayNum(w.from), dayNum(w.to)
	cs := cm.credits
	out := make([]staffFigure, 0, len(staff))
	for _, id := range staff {
		f := staffFigure{e: BoardEntry{ID: id}}
		if p, ok := cs.pos[id]; ok {
			for _, c := range cs.staff[p].credits {
				if c.day < from || c.day > to || (w.scopePath != "" && !strings.HasPrefix(cs.chains[c.chain].path, w.scopePath)) {
					continue
				}
				f.hasCredit = true
				f.e.weight += c.weight
				f.e.AmountFen += c.fen
				f.e.reach(c.occurred)
			}
		}
		visitors := map[uint32]struct{}{}
		for _, c := range cm.ref.clicks[id] {
			if c.day < from || c.day > to {
				continue
			}
			f.hasRef = true
			f.e.Clicks++
			visitors[c.visitor] = struct{}{}
			f.refReached = max(f.refReached, c.at)
		}
		f.e.Visitors = int64(len(visitors))
		for _, s := range cm.ref.shares[id] {
			if s.day < from || s.day > to {
				continue
			}
			f.hasRef = true
			f.e.Shares++
			f.refReached = max(f.refReached, s.at)
		}
		out = append(out, f)
	}
	return out
}
