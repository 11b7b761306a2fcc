package attribution

import (
	"context"
	"fmt"
	"rmref/internal/auth"
	"rmref/internal/db"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
)

// BoardCacheTTL bounds how long a cached board may miss org changes
// (transfers, leavers); new credits, reversals, shares, clicks and
// adjustments invalidate it at once through the data version.
const BoardCacheTTL = time.Minute

// boardCache keeps computed boards per campaign and query, valid while
// the data version is unchanged and for at most BoardCacheTTL.
type boardCache struct {
	mu sync.Mutex
	m  map[boardKey]cachedBoard
}

type boardKey struct {
	campaign int64
	q        BoardQuery
	frozen   bool
}

type cachedBoard struct {
	version dataVersion
	at      time.Time
	board   Board
}

// dataVersion is the newest row of every append-only table a board reads:
// any new credit (or credit change, which appends rollup deltas), share,
// click or adjustment moves it.
type dataVersion struct {
	Deltas      int64 `db:"d"`
	Clicks      int64 `db:"c"`
	Shares      int64 `db:"s"`
	Adjustments int64 `db:"a"`
}

const qDataVersion = `SELECT
	(SELECT COALESCE(MAX(id), 0) FROM rollup_deltas) AS d,
	(SELECT COALESCE(MAX(id), 0) FROM referral_clicks) AS c,
	(SELECT COALESCE(MAX(id), 0) FROM referral_shares) AS s,
	(SELECT COALESCE(MAX(id), 0) FROM attribution_adjustments) AS a`

func (s BoardStore) dataVersion(ctx context.Context, ext sqlx.ExtContext) (dataVersion, error) {
	var v dataVersion
	if err := sqlx.GetContext(ctx, ext, &v, qDataVersion); err != nil {
		return v, fmt.Errorf("attribution: board version: %w", err)
	}
	return v, nil
}

// get returns a cached board still valid at now for version v.
func (c *boardCache) get(k boardKey, v dataVersion, now time.Time) (Board, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok || e.version != v || now.Sub(e.at) >= BoardCacheTTL || now.Before(e.at) {
		return Board{}, false
	}
	return e.board, true
}

// previous returns the board last cached for k, whatever its version.
func (c *boardCache) previous(k boardKey) (Board, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	return e.board, ok
}

// put stores a board; the cache holds at most 256 boards (then starts over).
func (c *boardCache) put(k boardKey, v dataVersion, now time.Time, b Board) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= 256 {
		c.m = map[boardKey]cachedBoard{}
	}
	c.m[k] = cachedBoard{version: v, at: now, board: b}
}

// WithCache turns on the board cache (NewBoards does) and returns b.
func (b *Boards) WithCache() *Boards {
	b.cache, b.mirror, b.orgc = &boardCache{}, &boardMirror{}, &orgCache{}
	return b
}

// Warm loads the caches of the campaigns running now (credit, click and
// share mirrors, placements, names), so that the first board after a
// restart does not pay for them. It stops at the first error.
func (b *Boards) Warm(ctx context.Context) error {
	if !b.cached() {
		return nil
	}
	now := db.Micros(b.Clock.Now())
	var ids []int64
	if err := b.DB.SelectContext(ctx, &ids, b.DB.Rebind(`SELECT id FROM campaigns WHERE status = 'active' AND start_at <= ? AND end_at > ? ORDER BY id`), now, now); err != nil {
		return fmt.Errorf("attribution: warm boards: %w", err)
	}
	system := auth.Principal{Roles: []auth.Role{auth.RoleHQAdmin}}
	for _, id := range ids {
		if _, err := b.Board(ctx, system, id, BoardQuery{}); err != nil {
			return fmt.Errorf("attribution: warm board of campaign %d: %w", id, err)
		}
	}
	return nil
}

// Mirrored reports whether a campaign's credits, clicks and shares are
// held in memory (after a first board or Warm).
func (b *Boards) Mirrored(campaignID int64) bool {
	if !b.cached() {
		return false
	}
	cm := b.mirror.campaign(campaignID)
	cm.mu.Lock()
	defer cm.mu.Unlock()
	return cm.loaded
}
