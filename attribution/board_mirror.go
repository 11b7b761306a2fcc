package attribution

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"rmref/internal/db"
)

// The board mirror keeps each campaign's credits in memory, grouped by
// staff member, so that a board after a new conversion is a scan of memory
// rather than a GROUP BY over every credit of the campaign.
//
// It follows the credits through rollup_deltas: every credit insert or
// delete appends a staff-level delta in the same transaction. A refresh
// reads the staff deltas it has not seen yet and reloads those staff
// members' credits whole (state, not arithmetic), so reading a delta twice
// is harmless. Delta ids are allocated before commit, so a delta may
// become visible after a higher one: ids above the low-water mark are kept
// (with when they were first seen) and re-read until they are older than
// mirrorSettle; only then does the mark pass them. A transaction that stays
// open longer than that after its delta was written is caught by the full
// reload every mirrorReconcile.
const (
	mirrorSettle    = 10 * time.Second
	mirrorReconcile = 10 * time.Minute
)

// mchain is a stamped org chain; credits refer to it by index.
type mchain struct {
	path                            string
	team, subbranch, branch, region int64
}

// mcredit is one credit as the boards need it (40 bytes).
type mcredit struct {
	chain             uint32 // index into creditSet.chains
	day               int32  // YYYYMMDD
	weight, fen       int64
	occurred, created int64
}

// mstaff is one staff member's credits.
type mstaff struct {
	id      int64
	credits []mcredit
}

// creditSet is a campaign's credits by staff member: a slice to scan, an
// index to replace a staff member's credits, and the distinct chains.
type creditSet struct {
	staff    []mstaff
	pos      map[int64]int
	chains   []mchain
	chainIdx map[mchain]uint32
}

func newCreditSet() *creditSet {
	return &creditSet{pos: map[int64]int{}, chainIdx: map[mchain]uint32{}}
}

func (cs *creditSet) credit(r mirrorRow) mcredit {
	ch := mchain{path: r.Path, team: r.Team, subbranch: r.Subbranch, branch: r.Branch, region: r.Region}
	i, ok := cs.chainIdx[ch]
	if !ok {
		i = uint32(len(cs.chains))
		cs.chains = append(cs.chains, ch)
		cs.chainIdx[ch] = i
	}
	return mcredit{chain: i, day: dayNum(r.Day), weight: r.Weight, fen: r.Fen, occurred: r.Occurred, created: r.Created}
}

// add appends a credit of a staff member.
func (cs *creditSet) add(r mirrorRow) {
	p, ok := cs.pos[r.StaffID]
	if !ok {
		p = len(cs.staff)
		cs.staff = append(cs.staff, mstaff{id: r.StaffID})
		cs.pos[r.StaffID] = p
	}
	cs.staff[p].credits = append(cs.staff[p].credits, cs.credit(r))
}

// replace sets a staff member's credits (none: an empty slot stays).
func (cs *creditSet) replace(staffID int64, rows []mirrorRow) {
	credits := make([]mcredit, len(rows))
	for i, r := range rows {
		credits[i] = cs.credit(r)
	}
	if p, ok := cs.pos[staffID]; ok {
		cs.staff[p].credits = credits
		return
	}
	if len(credits) > 0 {
		cs.pos[staffID] = len(cs.staff)
		cs.staff = append(cs.staff, mstaff{id: staffID, credits: credits})
	}
}

// campMirror is one campaign's credits.
type campMirror struct {
	mu       sync.Mutex
	loaded   bool
	loadedAt time.Time // wall clock
	credits  *creditSet
	low      int64               // staff deltas with id <= low are reflected
	pending  map[int64]time.Time // delta ids > low reflected, first seen (wall)
	reload   bool                // a background full reload is running
	ref      *referralMirror     // counted clicks and shares
	used     time.Time           // last asked for (wall clock; guarded by boardMirror.mu)

	// seq counts changes; changes lists the staff members each recent one
	// touched, so a staff board can be updated rather than rebuilt.
	seq     int64
	changes []mirrorChange
}

// mirrorChange is one refresh's staff members whose credits, clicks or
// shares changed.
type mirrorChange struct {
	seq   int64
	staff []int64
}

// maxChanges bounds the change log; a board older than it is rebuilt.
const maxChanges = 256

// changed records that the staff members' figures changed.
func (cm *campMirror) changed(staff []int64) {
	if len(staff) == 0 {
		return
	}
	cm.seq++
	cm.changes = append(cm.changes, mirrorChange{seq: cm.seq, staff: staff})
	if len(cm.changes) > maxChanges {
		cm.changes = append([]mirrorChange(nil), cm.changes[len(cm.changes)-maxChanges:]...)
	}
}

// reset records a change of everything (a load or a full reload).
func (cm *campMirror) reset() {
	cm.seq++
	cm.changes = nil
}

// changedSince returns the staff members changed after seq; ok is false
// when the log no longer covers that far back (or everything changed).
func (cm *campMirror) changedSince(seq int64) (staff []int64, ok bool) {
	if seq == cm.seq {
		return nil, true
	}
	if seq > cm.seq || len(cm.changes) == 0 || cm.changes[0].seq > seq+1 {
		return nil, false
	}
	seen := map[int64]bool{}
	for _, c := range cm.changes {
		if c.seq <= seq {
			continue
		}
		for _, id := range c.staff {
			if !seen[id] {
				seen[id] = true
				staff = append(staff, id)
			}
		}
	}
	return staff, true
}

// boardMirror holds the campaigns' mirrors.
type boardMirror struct {
	mu    sync.Mutex
	camps map[int64]*campMirror
}

// mirrorIdle is how long a campaign's mirror is kept without a board
// being asked of it.
const mirrorIdle = 30 * time.Minute

func (m *boardMirror) campaign(id int64) *campMirror {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.camps == nil {
		m.camps = map[int64]*campMirror{}
	}
	now := time.Now()
	for other, cm := range m.camps { // free the memory of campaigns nobody looks at
		if other != id && now.Sub(cm.used) > mirrorIdle {
			delete(m.camps, other)
		}
	}
	cm, ok := m.camps[id]
	if !ok {
		cm = &campMirror{}
		m.camps[id] = cm
	}
	cm.used = now
	return cm
}

// dayNum turns YYYY-MM-DD into YYYYMMDD (0 when malformed).
func dayNum(day string) int32 {
	if len(day) != 10 {
		return 0
	}
	n, err := strconv.Atoi(day[:4] + day[5:7] + day[8:])
	if err != nil {
		return 0
	}
	return int32(n)
}

type mirrorRow struct {
	StaffID   int64  `db:"staff_id"`
	Team      int64  `db:"team_id"`
	Subbranch int64  `db:"subbranch_id"`
	Branch    int64  `db:"branch_id"`
	Region    int64  `db:"region_id"`
	Path      string `db:"unit_path"`
	Day       string `db:"day"`
	Weight    int64  `db:"weight_micro"`
	Fen       int64  `db:"credited_fen"`
	Occurred  int64  `db:"occurred_at"`
	Created   int64  `db:"created_at"`
}

const mirrorCols = `staff_id, team_id, subbranch_id, branch_id, region_id, unit_path, day, weight_micro, credited_fen, occurred_at, created_at`

// refresh brings the mirror up to date: loads it on first use, then
// applies the staff deltas not seen yet. The caller holds cm.mu.
func (cm *campMirror) refresh(ctx context.Context, b *Boards, campaignID int64) error {
	if !cm.loaded {
		if err := cm.load(ctx, b, campaignID); err != nil {
			return err
		}
	} else if time.Since(cm.loadedAt) > mirrorReconcile && !cm.reload {
		cm.reload = true
		go cm.reconcile(b, campaignID)
	}
	staff, err := cm.tail(ctx, b, campaignID)
	if err != nil {
		return err
	}
	more, err := cm.ref.tail(ctx, b.DB, campaignID)
	if err != nil {
		return err
	}
	cm.changed(append(staff, more...))
	return nil
}

// load reads the campaign's credits whole. The low-water mark is taken
// before the read, at the newest delta older than mirrorSettle, so every
// change committed after the read is above it.
func (cm *campMirror) load(ctx context.Context, b *Boards, campaignID int64) error {
	low, err := settledDelta(ctx, b.DB, b.Clock.Now().Add(-mirrorSettle))
	if err != nil {
		return err
	}
	started := time.Now()
	credits, err := loadCredits(ctx, b.DB, campaignID)
	if err != nil {
		return err
	}
	ref, err := loadReferral(ctx, b, campaignID)
	if err != nil {
		return err
	}
	cm.credits, cm.ref = credits, ref
	cm.low, cm.pending = low, map[int64]time.Time{}
	cm.loaded, cm.loadedAt = true, started
	cm.reset()
	return nil
}

// loadCredits reads every credit of a campaign, grouped by staff member.
func loadCredits(ctx context.Context, d *db.DB, campaignID int64) (*creditSet, error) {
	// "campaign_id + 0": one pass over the table in storage order beats a
	// row lookup per credit through the campaign index (10x on SQLite).
	rows, err := d.QueryContext(ctx, d.Rebind(`SELECT `+mirrorCols+` FROM credits WHERE campaign_id + 0 = ? AND staff_id <> 0`), campaignID)
	if err != nil {
		return nil, fmt.Errorf("attribution: board mirror: %w", err)
	}
	defer rows.Close()
	cs := newCreditSet()
	var r mirrorRow
	for rows.Next() {
		if err := rows.Scan(&r.StaffID, &r.Team, &r.Subbranch, &r.Branch, &r.Region, &r.Path, &r.Day, &r.Weight, &r.Fen, &r.Occurred, &r.Created); err != nil {
			return nil, fmt.Errorf("attribution: board mirror: %w", err)
		}
		cs.add(r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("attribution: board mirror: %w", err)
	}
	return cs, nil
}

// reconcile reloads the campaign in the background and swaps it in, so
// that a change whose delta was missed shows within mirrorReconcile.
func (cm *campMirror) reconcile(b *Boards, campaignID int64) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	fresh := &campMirror{}
	err := fresh.load(ctx, b, campaignID)
	cm.mu.Lock()
	defer cm.mu.Unlock()
	cm.reload = false
	if err != nil {
		cm.loadedAt = time.Now() // try again after another interval
		return
	}
	cm.credits, cm.ref, cm.low, cm.pending, cm.loadedAt = fresh.credits, fresh.ref, fresh.low, fresh.pending, fresh.loadedAt
	cm.reset()
}

// settledDelta returns the id of the newest rollup delta created before t
// (0 if none).
func settledDelta(ctx context.Context, d *db.DB, t time.Time) (int64, error) {
	return walkBack(ctx, d, `SELECT id, created_at FROM rollup_deltas WHERE id < ? ORDER BY id DESC LIMIT 2000`, db.Micros(t))
}

// walkBack pages back from the newest row by primary key (q takes the id
// to stay under and yields id, created_at newest first, 2,000 at a time)
// to the first row created before cut; 0 when there is none.
func walkBack(ctx context.Context, d *db.DB, q string, cut int64) (int64, error) {
	before := int64(1<<63 - 1)
	for {
		var rows []struct {
			ID      int64 `db:"id"`
			Created int64 `db:"created_at"`
		}
		if err := d.SelectContext(ctx, &rows, d.Rebind(q), before); err != nil {
			return 0, fmt.Errorf("attribution: board mirror: %w", err)
		}
		for _, r := range rows {
			if r.Created < cut {
				return r.ID, nil
			}
		}
		if len(rows) < 2000 {
			return 0, nil
		}
		before = rows[len(rows)-1].ID
	}
}

// tail applies the staff deltas above the low-water mark not seen yet.
func (cm *campMirror) tail(ctx context.Context, b *Boards, campaignID int64) ([]int64, error) {
	var rows []struct {
		ID    int64 `db:"id"`
		Staff int64 `db:"key_id"`
	}
	if err := b.DB.SelectContext(ctx, &rows, b.DB.Rebind(`SELECT id, key_id FROM rollup_deltas
		WHERE id > ? AND campaign_id = ? AND level = 'staff' ORDER BY id`), cm.low, campaignID); err != nil {
		return nil, fmt.Errorf("attribution: board mirror: %w", err)
	}
	now := time.Now()
	var staff []int64
	seen := map[int64]bool{}
	for _, r := range rows {
		if _, ok := cm.pending[r.ID]; ok {
			continue
		}
		if !seen[r.Staff] {
			seen[r.Staff] = true
			staff = append(staff, r.Staff)
		}
	}
	if err := cm.reloadStaff(ctx, b.DB, campaignID, staff); err != nil {
		return nil, err
	}
	for _, r := range rows {
		if _, ok := cm.pending[r.ID]; !ok {
			cm.pending[r.ID] = now
		}
	}
	// Pass the ids seen long enough ago that no transaction holding a
	// lower one is still open.
	low := cm.low
	for id, at := range cm.pending {
		if now.Sub(at) > mirrorSettle && id > low {
			low = id
		}
	}
	if low != cm.low {
		cm.low = low
		for id := range cm.pending {
			if id <= low {
				delete(cm.pending, id)
			}
		}
	}
	return staff, nil
}

// reloadStaff replaces the credits of the staff members with what the
// database holds now.
func (cm *campMirror) reloadStaff(ctx context.Context, d *db.DB, campaignID int64, staff []int64) error {
	for start := 0; start < len(staff); start += 500 {
		part := staff[start:min(start+500, len(staff))]
		q, args, err := sqlx.In(`SELECT `+mirrorCols+` FROM credits WHERE campaign_id = ? AND staff_id IN (?)`, campaignID, part)
		if err != nil {
			return fmt.Errorf("attribution: board mirror: %w", err)
		}
		var rows []mirrorRow
		if err := d.SelectContext(ctx, &rows, d.Rebind(q), args...); err != nil {
			return fmt.Errorf("attribution: board mirror: %w", err)
		}
		fresh := make(map[int64][]mirrorRow, len(part))
		for _, r := range rows {
			fresh[r.StaffID] = append(fresh[r.StaffID], r)
		}
		for _, id := range part {
			cm.credits.replace(id, fresh[id])
		}
	}
	return nil
}

// fromMirror adds the window's credits, clicks and shares from the
// mirror, brought up to date first: what addCredits and addReferral
// compute with SQL, from memory.
func (b *Boards) fromMirror(ctx context.Context, w window, t *tally) error {
	cm := b.mirror.campaign(w.camp.ID)
	cm.mu.Lock()
	defer cm.mu.Unlock()
	if err := cm.refresh(ctx, b, w.camp.ID); err != nil {
		return err
	}
	t.seq = cm.seq
	if err := b.referralFromMirror(ctx, w, t, cm.ref); err != nil {
		return err
	}
	from, to := dayNum(w.from), dayNum(w.to)
	freeze := int64(-1)
	if !w.freeze.IsZero() {
		freeze = db.Micros(w.freeze)
	}
	cs := cm.credits
	// Per chain: in scope, and the key it counts under at a unit level.
	inScope := make([]bool, len(cs.chains))
	unitKey := make([]int64, len(cs.chains))
	for i, ch := range cs.chains {
		inScope[i] = w.scopePath == "" || strings.HasPrefix(ch.path, w.scopePath)
		switch t.level {
		case LevelTeam:
			unitKey[i] = ch.team
		case LevelSubbranch:
			unitKey[i] = ch.subbranch
		case LevelBranch:
			unitKey[i] = ch.branch
		case LevelRegion:
			unitKey[i] = ch.region
		}
	}
	staffLevel := t.level == LevelStaff
	var lastKey int64
	var e *BoardEntry
	for si := range cs.staff {
		st := &cs.staff[si]
		for i := range st.credits {
			c := &st.credits[i]
			if c.day < from || c.day > to || !inScope[c.chain] {
				continue
			}
			key := st.id
			if !staffLevel {
				key = unitKey[c.chain]
			}
			if key == 0 {
				continue
			}
			if e == nil || key != lastKey { // a staff member's credits mostly share keys
				e, lastKey = t.get(key), key
			}
			if freeze >= 0 && c.created >= freeze {
				e.adjustW += c.weight
				e.AdjustFen += c.fen
				continue
			}
			e.weight += c.weight
			e.AmountFen += c.fen
			e.reach(c.occurred)
		}
	}
	return nil
}
