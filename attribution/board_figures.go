package attribution

import (
	"context"
	"math/big"
	"strings"
	"time"

	"rmref/internal/db"
	"rmref/org"
)

// tally collects a board's entries by key.
type tally struct {
	level   string
	m       map[int64]*BoardEntry
	pe      *placementEntry // cached placements at the window's end, if any
	block   []BoardEntry    // entries are allocated in blocks, not one by one
	hint    []BoardEntry    // a previous board: entries are laid out in its order
	ordered []*BoardEntry
	seq     int64 // the mirror's change counter the figures were read at
}

// orderHint lays the entries out in the previous board's order (new ones
// after), so that ranking sorts a nearly sorted list: after one new
// conversion, only a few entries move.
func (t *tally) orderHint() []*BoardEntry {
	t.ordered = make([]*BoardEntry, 0, len(t.m))
	for i := range t.hint {
		if e, ok := t.m[t.hint[i].ID]; ok && !e.placed {
			e.placed = true
			t.ordered = append(t.ordered, e)
		}
	}
	for _, e := range t.m {
		if !e.placed {
			t.ordered = append(t.ordered, e)
		}
	}
	return t.ordered
}

func (t *tally) get(key int64) *BoardEntry {
	e, ok := t.m[key]
	if !ok {
		if len(t.block) == cap(t.block) {
			t.block = make([]BoardEntry, 0, 4096)
		}
		t.block = append(t.block, BoardEntry{ID: key})
		e = &t.block[len(t.block)-1]
		t.m[key] = e
	}
	return e
}

func (e *BoardEntry) reach(us int64) {
	if us > e.reached {
		e.reached = us
	}
}

// entries computes every entry of the level in the window, ranked. A
// caching service reads credits from its mirror and org data from its org
// cache; without the cache every figure comes from SQL (the reference the
// tests compare the cached path with).
func (b *Boards) entries(ctx context.Context, w window, q BoardQuery) ([]BoardEntry, boardMeta, error) {
	if b.cached() && q.Level == LevelStaff && w.freeze.IsZero() && w.prev != nil {
		es, meta, ok, err := b.incremental(ctx, w, q, w.prev)
		if err != nil || ok {
			return es, meta, err
		}
	}
	var heads map[int64]int64
	var pe *placementEntry
	var built time.Time
	var err error
	var meta boardMeta
	if b.cached() {
		heads, pe, built, err = b.headsCached(ctx, w, q.Level)
	} else {
		heads, err = b.heads(ctx, w, q.Level)
	}
	if err != nil {
		return nil, meta, err
	}
	t := &tally{level: q.Level, m: make(map[int64]*BoardEntry, len(heads)+64), pe: pe}
	for key, n := range heads {
		t.get(key).Heads = n
	}
	if b.cached() {
		err = b.fromMirror(ctx, w, t)
		meta = boardMeta{ok: true, seq: t.seq, pe: pe, peBuilt: built, units: strings.Join(w.camp.UnitPaths, ","), scope: w.scopePath}
	} else if err = b.addCredits(ctx, w, t); err == nil {
		err = b.addReferral(ctx, w, t)
	}
	if err != nil {
		return nil, meta, err
	}
	if err := b.addAdjustments(ctx, w, t); err != nil {
		return nil, meta, err
	}
	t.hint = w.hint
	es, err := b.finish(ctx, t, q)
	return es, meta, err
}

// cached reports whether the service runs with its caches (NewBoards).
func (b *Boards) cached() bool { return b.cache != nil && b.mirror != nil && b.orgc != nil }

// chainsAt returns staff chains at the window's end, from the placements
// when the tally has them.
func (b *Boards) chainsAt(ctx context.Context, w window, t *tally, ids []int64) (map[int64]org.Chain, error) {
	if t.pe != nil {
		return b.chainsAtEnd(ctx, w, t.pe, ids)
	}
	return b.Org.ChainsAt(ctx, b.DB, ids, w.end)
}

// heads counts active participating staff in scope at the window's end
// per key of level.
func (b *Boards) heads(ctx context.Context, w window, level string) (map[int64]int64, error) {
	ids, err := b.Store.activeStaff(ctx, b.DB, w.end)
	if err != nil {
		return nil, err
	}
	chains, err := b.Org.ChainsAt(ctx, b.DB, ids, w.end)
	if err != nil {
		return nil, err
	}
	out := map[int64]int64{}
	for id, ch := range chains {
		if !w.camp.Participates(ch.Path) || !strings.HasPrefix(ch.Path, w.scopePath) {
			continue
		}
		if key := levelKey(level, chainFrom(ch), id); key != 0 {
			out[key]++
		}
	}
	return out, nil
}

func chainFrom(ch org.Chain) Chain {
	return Chain{UnitID: ch.UnitID, UnitPath: ch.Path, TeamID: ch.TeamID, SubbranchID: ch.SubbranchID, BranchID: ch.BranchID, RegionID: ch.RegionID}
}

// addCredits adds the credits (stamped chains) and, on a frozen board, the
// credits written after the freeze as adjustments.
func (b *Boards) addCredits(ctx context.Context, w window, t *tally) error {
	rows, err := b.Store.creditSums(ctx, b.DB, w, t.level, false)
	if err != nil {
		return err
	}
	for _, r := range rows {
		e := t.get(r.Key)
		e.weight, e.AmountFen = r.Weight, r.Fen
		e.reach(r.Reached)
	}
	late, err := b.Store.creditSums(ctx, b.DB, w, t.level, true)
	if err != nil {
		return err
	}
	for _, r := range late {
		e := t.get(r.Key)
		e.adjustW += r.Weight
		e.AdjustFen += r.Fen
	}
	return nil
}

// addAdjustments adds recorded late changes of a frozen campaign under the
// staff member's chain at the window's end.
func (b *Boards) addAdjustments(ctx context.Context, w window, t *tally) error {
	rows, err := b.Store.adjustments(ctx, b.DB, w)
	if err != nil || len(rows) == 0 {
		return err
	}
	ids := make([]int64, len(rows))
	for i, r := range rows {
		ids[i] = r.StaffID
	}
	chains, err := b.chainsAt(ctx, w, t, ids)
	if err != nil {
		return err
	}
	for _, r := range rows {
		ch := chains[r.StaffID]
		if key := levelKey(t.level, chainFrom(ch), r.StaffID); key != 0 && strings.HasPrefix(ch.Path, w.scopePath) {
			e := t.get(key)
			e.adjustW += r.Weight
			e.AdjustFen += r.Fen
		}
	}
	return nil
}

// addReferral adds shares, counted clicks and distinct visitors under the
// sharing staff member's chain at the window's end.
func (b *Boards) addReferral(ctx context.Context, w window, t *tally) error {
	vs, err := b.Store.visitors(ctx, b.DB, w)
	if err != nil {
		return err
	}
	sh, err := b.Store.shares(ctx, b.DB, w)
	if err != nil {
		return err
	}
	ids := make([]int64, 0, len(vs)+len(sh))
	for _, v := range vs {
		ids = append(ids, v.StaffID)
	}
	for _, s := range sh {
		ids = append(ids, s.StaffID)
	}
	chains, err := b.chainsAt(ctx, w, t, uniqIDs(ids))
	if err != nil {
		return err
	}
	keyOf := func(staff int64) int64 { return keyAtEnd(chains, t.level, w.scopePath, staff) }
	for _, v := range vs {
		if key := keyOf(v.StaffID); key != 0 {
			e := t.get(key)
			e.Clicks += v.Clicks
			if e.visitor == nil {
				e.visitor = map[string]bool{}
			}
			e.visitor[v.VisitorID] = true
			e.reach(v.Last)
		}
	}
	for _, s := range sh {
		if key := keyOf(s.StaffID); key != 0 {
			e := t.get(key)
			e.Shares += s.Shares
			e.reach(s.Last)
		}
	}
	return nil
}

// keyAtEnd is the key a staff member's clicks and shares count under at
// level: by their chain at the window's end, 0 when they have none or it
// lies outside the scope.
func keyAtEnd(chains map[int64]org.Chain, level, scope string, staff int64) int64 {
	ch, ok := chains[staff]
	if !ok || !strings.HasPrefix(ch.Path, scope) {
		return 0
	}
	return levelKey(level, chainFrom(ch), staff)
}

func uniqIDs(ids []int64) []int64 {
	seen := make(map[int64]bool, len(ids))
	out := make([]int64, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// finish computes values, names the entries and ranks them.
func (b *Boards) finish(ctx context.Context, t *tally, q BoardQuery) ([]BoardEntry, error) {
	ids := make([]int64, 0, len(t.m))
	for id := range t.m {
		ids = append(ids, id)
	}
	var names map[int64]string
	var err error
	if b.cached() {
		names, err = b.namesCached(ctx, t.level, ids)
	} else {
		names, err = b.Store.names(ctx, b.DB, t.level, ids)
	}
	if err != nil {
		return nil, err
	}
	values := make([]float64, 0, len(t.m))
	times := make([]time.Time, 0, len(t.m))
	for _, e := range t.orderHint() {
		e.Name = names[e.ID]
		if e.visitor != nil {
			e.Visitors = int64(len(e.visitor))
		}
		e.Conversions = float64(e.weight) / WeightScale
		e.AdjustConversions = float64(e.adjustW) / WeightScale
		e.exact = exactValue(*e, q)
		if v, ok := displayValue(e.exact, q.Metric); ok {
			values = append(values, v)
			e.Value = &values[len(values)-1]
		}
		if e.reached > 0 {
			times = append(times, db.FromMicros(e.reached).UTC())
			e.ReachedAt = &times[len(times)-1]
		}
		if q.Level == LevelStaff {
			e.Heads = 0
		}
	}
	ptrs := t.ordered
	rank(ptrs)
	out := make([]BoardEntry, len(ptrs))
	for i, e := range ptrs {
		out[i] = *e
	}
	return out, nil
}

// WeightScale is the weight_micro of one whole conversion.
const WeightScale = 1_000_000

// exactValue is the entry's exact figure for the metric (not ok when it
// has none to rank).
func exactValue(e BoardEntry, q BoardQuery) frac {
	var num frac
	switch q.Metric {
	case MetricConversions:
		num = fracOf(e.weight, WeightScale)
	case MetricAmount:
		num = fracOf(e.AmountFen, 1)
	case MetricShares:
		num = fracOf(e.Shares, 1)
	case MetricClicks:
		num = fracOf(e.Clicks, 1)
	case MetricVisitors:
		num = fracOf(e.Visitors, 1)
	case MetricRate:
		n := e.Visitors
		if n == 0 || n < int64(q.MinVisitors) {
			return frac{}
		}
		return fracOf(e.weight, WeightScale).div(n)
	}
	if !q.PerHead {
		return num
	}
	if e.Heads == 0 {
		return frac{}
	}
	return num.div(e.Heads)
}

// displayValue renders an exact value: amounts rounded half-up to the fen,
// other figures to six decimals.
func displayValue(v frac, metric string) (float64, bool) {
	if !v.ok {
		return 0, false
	}
	if metric == MetricAmount {
		return float64(v.roundScaled(1)), true
	}
	return float64(v.roundScaled(WeightScale)) / WeightScale, true
}

// roundHalfUp rounds to the nearest integer, halves away from zero.
func roundHalfUp(v *big.Rat) int64 {
	num, den := new(big.Int).Abs(v.Num()), v.Denom()
	q, r := new(big.Int).QuoRem(num, den, new(big.Int))
	if new(big.Int).Mul(r, big.NewInt(2)).Cmp(den) >= 0 {
		q.Add(q, big.NewInt(1))
	}
	if v.Sign() < 0 {
		q.Neg(q)
	}
	return q.Int64()
}
