package attribution

import (
	"context"
	"fmt"
	"time"

	"rmref/internal/db"
)

// Counted clicks and shares are append-only, so their mirror follows the
// tables themselves by primary key: rows above the low-water mark are
// remembered by id (and skipped when read again) until they are older than
// mirrorSettle, as for the credits.

// mclick is one counted click as the boards need it.
type mclick struct {
	visitor uint32 // interned per campaign
	day     int32
	at      int64
}

// mshare is one share.
type mshare struct {
	day int32
	at  int64
}

// appendLog is the follow state of one append-only table.
type appendLog struct {
	low     int64
	pending map[int64]time.Time
}

// take reports whether a row read now is new to the mirror (and
// remembers it when above the mark). A full load takes every row; a tail
// skips rows at or below the mark and rows already remembered.
func (l *appendLog) take(id int64, now time.Time, load bool) bool {
	if id <= l.low {
		return load
	}
	if _, ok := l.pending[id]; ok {
		return false
	}
	l.pending[id] = now
	return true
}

// settle passes the ids seen more than mirrorSettle ago.
func (l *appendLog) settle(now time.Time) {
	low := l.low
	for id, at := range l.pending {
		if now.Sub(at) > mirrorSettle && id > low {
			low = id
		}
	}
	if low == l.low {
		return
	}
	l.low = low
	for id := range l.pending {
		if id <= low {
			delete(l.pending, id)
		}
	}
}

// referralMirror is one campaign's counted clicks and shares by staff.
type referralMirror struct {
	clicks   map[int64][]mclick
	shares   map[int64][]mshare
	visitors map[string]uint32
	clickLog appendLog
	shareLog appendLog
	touched  func(staffID int64) // during a tail: told of each new row's staff member
}

type mirrorClickRow struct {
	ID      int64  `db:"id"`
	StaffID int64  `db:"staff_id"`
	Visitor string `db:"visitor_id"`
	Day     string `db:"day"`
	At      int64  `db:"at"`
}

func (rm *referralMirror) visitor(v string) uint32 {
	if n, ok := rm.visitors[v]; ok {
		return n
	}
	n := uint32(len(rm.visitors))
	rm.visitors[v] = n
	return n
}

// loadReferral reads a campaign's counted clicks and shares whole; rows
// above the settled mark are remembered so the follow-up read skips them.
func loadReferral(ctx context.Context, b *Boards, campaignID int64) (*referralMirror, error) {
	cut := b.Clock.Now().Add(-mirrorSettle)
	rm := &referralMirror{clicks: map[int64][]mclick{}, shares: map[int64][]mshare{}, visitors: map[string]uint32{}}
	var err error
	if rm.clickLog.low, err = settledRow(ctx, b.DB, "referral_clicks", cut); err != nil {
		return nil, err
	}
	if rm.shareLog.low, err = settledRow(ctx, b.DB, "referral_shares", cut); err != nil {
		return nil, err
	}
	now := time.Now()
	rm.clickLog.pending, rm.shareLog.pending = map[int64]time.Time{}, map[int64]time.Time{}
	if err := rm.readClicks(ctx, b.DB, campaignID, 0, now, true); err != nil {
		return nil, err
	}
	if err := rm.readShares(ctx, b.DB, campaignID, 0, now, true); err != nil {
		return nil, err
	}
	return rm, nil
}

// readClicks adds the counted clicks with id > after; on a load, rows at or
// below the mark are taken without being remembered.
func (rm *referralMirror) readClicks(ctx context.Context, d *db.DB, campaignID, after int64, now time.Time, load bool) error {
	rows, err := d.QueryContext(ctx, d.Rebind(`SELECT id, staff_id, visitor_id, day, at FROM referral_clicks
		WHERE id > ? AND campaign_id = ? AND counted = 1`), after, campaignID)
	if err != nil {
		return fmt.Errorf("attribution: board mirror clicks: %w", err)
	}
	defer rows.Close()
	var r mirrorClickRow
	for rows.Next() {
		if err := rows.Scan(&r.ID, &r.StaffID, &r.Visitor, &r.Day, &r.At); err != nil {
			return fmt.Errorf("attribution: board mirror clicks: %w", err)
		}
		if !rm.clickLog.take(r.ID, now, load) {
			continue
		}
		rm.clicks[r.StaffID] = append(rm.clicks[r.StaffID], mclick{visitor: rm.visitor(r.Visitor), day: dayNum(r.Day), at: r.At})
		if rm.touched != nil {
			rm.touched(r.StaffID)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("attribution: board mirror clicks: %w", err)
	}
	return nil
}

// readShares adds the shares with id > after, as readClicks.
func (rm *referralMirror) readShares(ctx context.Context, d *db.DB, campaignID, after int64, now time.Time, load bool) error {
	rows, err := d.QueryxContext(ctx, d.Rebind(`SELECT id, staff_id, day, at FROM referral_shares WHERE id > ? AND campaign_id = ?`), after, campaignID)
	if err != nil {
		return fmt.Errorf("attribution: board mirror shares: %w", err)
	}
	defer rows.Close()
	var r struct {
		ID      int64  `db:"id"`
		StaffID int64  `db:"staff_id"`
		Day     string `db:"day"`
		At      int64  `db:"at"`
	}
	for rows.Next() {
		if err := rows.StructScan(&r); err != nil {
			return fmt.Errorf("attribution: board mirror shares: %w", err)
		}
		if !rm.shareLog.take(r.ID, now, load) {
			continue
		}
		rm.shares[r.StaffID] = append(rm.shares[r.StaffID], mshare{day: dayNum(r.Day), at: r.At})
		if rm.touched != nil {
			rm.touched(r.StaffID)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("attribution: board mirror shares: %w", err)
	}
	return nil
}

// tail adds the clicks and shares committed since the last read and
// returns the staff members they belong to.
func (rm *referralMirror) tail(ctx context.Context, d *db.DB, campaignID int64) ([]int64, error) {
	now := time.Now()
	var staff []int64
	rm.touched = func(id int64) { staff = append(staff, id) }
	defer func() { rm.touched = nil }()
	if err := rm.readClicks(ctx, d, campaignID, rm.clickLog.low, now, false); err != nil {
		return nil, err
	}
	if err := rm.readShares(ctx, d, campaignID, rm.shareLog.low, now, false); err != nil {
		return nil, err
	}
	rm.clickLog.settle(now)
	rm.shareLog.settle(now)
	return staff, nil
}

// settledRow returns the id of the newest row of an append-only table (with
// an "at" instant) from before t, walking back by primary key.
func settledRow(ctx context.Context, d *db.DB, table string, t time.Time) (int64, error) {
	return walkBack(ctx, d, `SELECT id, at AS created_at FROM `+table+` WHERE id < ? ORDER BY id DESC LIMIT 2000`, db.Micros(t))
}

// referralFromMirror adds shares, counted clicks and distinct visitors from
// the mirror under the sharing staff member's chain at the window's end:
// what addReferral computes with SQL.
func (b *Boards) referralFromMirror(ctx context.Context, w window, t *tally, rm *referralMirror) error {
	ids := make([]int64, 0, len(rm.clicks)+len(rm.shares))
	for id := range rm.clicks {
		ids = append(ids, id)
	}
	for id := range rm.shares {
		if _, ok := rm.clicks[id]; !ok {
			ids = append(ids, id)
		}
	}
	chains, err := b.chainsAt(ctx, w, t, ids)
	if err != nil {
		return err
	}
	keyOf := func(staff int64) int64 { return keyAtEnd(chains, t.level, w.scopePath, staff) }
	from, to, cutoff := dayNum(w.from), dayNum(w.to), w.cutoff()
	sets := map[int64]map[uint32]struct{}{}
	for staff, cs := range rm.clicks {
		key := keyOf(staff)
		if key == 0 {
			continue
		}
		var e *BoardEntry
		set := sets[key]
		for _, c := range cs {
			if c.day < from || c.day > to || c.at >= cutoff {
				continue
			}
			if e == nil {
				e = t.get(key)
				if set == nil {
					set = map[uint32]struct{}{}
					sets[key] = set
				}
			}
			e.Clicks++
			set[c.visitor] = struct{}{}
			e.reach(c.at)
		}
	}
	for key, set := range sets {
		t.get(key).Visitors = int64(len(set))
	}
	for staff, ss := range rm.shares {
		key := keyOf(staff)
		if key == 0 {
			continue
		}
		var e *BoardEntry
		for _, s := range ss {
			if s.day < from || s.day > to || s.at >= cutoff {
				continue
			}
			if e == nil {
				e = t.get(key)
			}
			e.Shares++
			e.reach(s.at)
		}
	}
	return nil
}
