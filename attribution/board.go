package attribution

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"rmref/internal/apperr"
	"rmref/internal/auth"
	"rmref/internal/clock"
	"rmref/internal/db"
	"rmref/org"

	"golang.org/x/sync/singleflight"
)

// Leaderboard metrics.
const (
	MetricConversions = "conversions" // sum of credit weights (fractional)
	MetricAmount      = "amount"      // credited fen
	MetricShares      = "shares"
	MetricClicks      = "clicks"   // counted clicks
	MetricVisitors    = "visitors" // distinct visitor ids among counted clicks
	MetricRate        = "rate"     // conversions / unique visitors
)

// DefaultMinVisitors is the visitor count below which no conversion rate
// is ranked, so that tiny denominators do not top the board.
const DefaultMinVisitors = 20

// BoardQuery selects a leaderboard.
type BoardQuery struct {
	Level       string // staff, team, subbranch, branch, region
	Metric      string
	PerHead     bool   // unit levels: divided by active participating staff
	Period      string // "" or "campaign", "day", "week", "range"
	Date        string // day and week: a YYYY-MM-DD in the period
	From, To    string // range: inclusive YYYY-MM-DD days
	ScopeUnitID int64  // 0: the whole campaign
	MinVisitors int    // rate threshold; 0 gives DefaultMinVisitors
}

// Board is a ranked leaderboard: every entry of the level in scope, ranked
// entries first.
type Board struct {
	CampaignID  int64        `json:"campaign_id,string"`
	Level       string       `json:"level"`
	Metric      string       `json:"metric"`
	PerHead     bool         `json:"per_head"`
	From        string       `json:"from"`
	To          string       `json:"to"`
	ScopeUnitID int64        `json:"scope_unit_id,string"`
	MinVisitors int          `json:"min_visitors"`
	Frozen      bool         `json:"frozen"`
	FrozenAt    *time.Time   `json:"frozen_at,omitempty"`
	Entries     []BoardEntry `json:"-"`

	meta boardMeta // what it was computed from (cached service)
}

// BoardEntry is one staff member or unit on a board. Value is nil when the
// entry has no figure to rank (a rate below the visitor threshold, a unit
// without staff); such entries are unranked (Rank 0) and listed last.
type BoardEntry struct {
	Rank        int        `json:"rank"`
	ID          int64      `json:"id,string"`
	Name        string     `json:"name"`
	Value       *float64   `json:"value"`
	Conversions float64    `json:"conversions"`
	AmountFen   int64      `json:"amount_fen"`
	Shares      int64      `json:"shares"`
	Clicks      int64      `json:"clicks"`
	Visitors    int64      `json:"unique_visitors"`
	Heads       int64      `json:"heads,omitempty"`
	ReachedAt   *time.Time `json:"reached_at"`
	// Corrections that arrived after the board froze (not in the figures).
	AdjustConversions float64 `json:"adjustment_conversions,omitempty"`
	AdjustFen         int64   `json:"adjustment_fen,omitempty"`

	exact   frac
	weight  int64
	visitor map[string]bool
	reached int64
	adjustW int64
	placed  bool // laid out by tally.orderHint
}

// Boards computes leaderboards from credits, clicks and shares.
type Boards struct {
	DB        *db.DB
	Clock     clock.Clock
	Campaigns Campaigns
	Org       *org.Store
	Store     BoardStore
	cache     *boardCache // nil: no caching
	mirror    *boardMirror
	orgc      *orgCache
	flight    singleflight.Group
}

// NewBoards returns the board service on the bank's own tables.
func NewBoards(d *db.DB, clk clock.Clock) *Boards {
	o := org.NewStore(d.Dialect)
	return &Boards{DB: d, Clock: clk, Campaigns: Bank{Org: o}, Org: o, Store: BoardStore{Dialect: d.Dialect}, cache: &boardCache{}, mirror: &boardMirror{}, orgc: &orgCache{}}
}

// window is a board's resolved period and scope.
type window struct {
	camp      Campaign
	from, to  string    // inclusive days
	end       time.Time // heads and chains are taken at this instant
	scopePath string
	freeze    time.Time    // zero: not frozen yet
	open      bool         // the window ends now (not at a fixed instant)
	hint      []BoardEntry // the previous board of the same query, if any: its order speeds up ranking
	prev      *Board       // that previous board
}

// Board returns the whole ranked board for the caller; it is visible to
// everyone taking part in the campaign and to hq_admin and auditors.
func (b *Boards) Board(ctx context.Context, p auth.Principal, campaignID int64, q BoardQuery) (Board, error) {
	if err := q.validate(); err != nil {
		return Board{}, err
	}
	c, err := b.visibleCampaign(ctx, p, campaignID)
	if err != nil {
		return Board{}, err
	}
	w, err := b.window(ctx, c, q)
	if err != nil {
		return Board{}, err
	}
	return b.cachedBoard(ctx, w, q)
}

// cachedBoard returns the board from the cache while no data changed, or
// computes and caches it.
func (b *Boards) cachedBoard(ctx context.Context, w window, q BoardQuery) (Board, error) {
	if b.cache == nil {
		return b.compute(ctx, w, q)
	}
	v, err := b.Store.dataVersion(ctx, b.DB)
	if err != nil {
		return Board{}, err
	}
	now := b.Clock.Now()
	k := boardKey{campaign: w.camp.ID, q: q, frozen: !w.freeze.IsZero()}
	if bd, ok := b.cache.get(k, v, now); ok {
		return bd, nil
	}
	if prev, ok := b.cache.previous(k); ok {
		w.prev, w.hint = &prev, prev.Entries
	}
	// Requests that miss together share one computation.
	res, err, _ := b.flight.Do(fmt.Sprintf("%+v/%+v", k, v), func() (any, error) {
		bd, err := b.compute(ctx, w, q)
		if err == nil {
			b.cache.put(k, v, now, bd)
		}
		return bd, err
	})
	if err != nil {
		return Board{}, err
	}
	return res.(Board), nil
}

// compute builds the board of the window.
func (b *Boards) compute(ctx context.Context, w window, q BoardQuery) (Board, error) {
	c := w.camp
	entries, meta, err := b.entries(ctx, w, q)
	if err != nil {
		return Board{}, err
	}
	out := Board{CampaignID: c.ID, Level: q.Level, Metric: q.Metric, PerHead: q.PerHead, From: w.from, To: w.to,
		ScopeUnitID: q.ScopeUnitID, MinVisitors: q.MinVisitors, Entries: entries, meta: meta}
	if !w.freeze.IsZero() {
		f := w.freeze.UTC()
		out.Frozen, out.FrozenAt = true, &f
	}
	return out, nil
}

// Me returns the caller's own entry on a staff board (or their unit's on a
// unit board); a caller not on the board is NotFound.
func (bd Board) Me(p auth.Principal, chain org.Chain) (BoardEntry, error) {
	key := levelKey(bd.Level, Chain{UnitID: chain.UnitID, TeamID: chain.TeamID, SubbranchID: chain.SubbranchID, BranchID: chain.BranchID, RegionID: chain.RegionID}, p.StaffID)
	for _, e := range bd.Entries {
		if key != 0 && e.ID == key {
			return e, nil
		}
	}
	return BoardEntry{}, apperr.NotFoundf("you are not on this board")
}

// CallerChain returns the caller's current org chain (for Board.Me).
func (b *Boards) CallerChain(ctx context.Context, p auth.Principal) (org.Chain, error) {
	ch, err := b.Org.ChainsAt(ctx, b.DB, []int64{p.StaffID}, b.Clock.Now())
	if err != nil {
		return org.Chain{}, err
	}
	return ch[p.StaffID], nil
}

func (q *BoardQuery) validate() error {
	ec := &apperr.Collector{}
	switch q.Level {
	case "":
		q.Level = LevelStaff
	case LevelStaff, LevelTeam, LevelSubbranch, LevelBranch, LevelRegion:
	default:
		ec.Add("level", "must be staff, team, subbranch, branch or region")
	}
	switch q.Metric {
	case "":
		q.Metric = MetricConversions
	case MetricConversions, MetricAmount, MetricShares, MetricClicks, MetricVisitors, MetricRate:
	default:
		ec.Add("metric", "must be conversions, amount, shares, clicks, visitors or rate")
	}
	if q.PerHead && (q.Level == LevelStaff || q.Metric == MetricRate) {
		ec.Add("per_head", "applies to unit levels and count or amount metrics only")
	}
	if q.MinVisitors < 0 {
		ec.Add("min_visitors", "must not be negative")
	}
	if q.MinVisitors == 0 {
		q.MinVisitors = DefaultMinVisitors
	}
	return ec.Err()
}

// visibleCampaign loads the campaign when the caller takes part in it (or
// reads all); otherwise it does not exist for them.
func (b *Boards) visibleCampaign(ctx context.Context, p auth.Principal, id int64) (Campaign, error) {
	c, err := b.Campaigns.Campaign(ctx, b.DB, id)
	if err != nil {
		return Campaign{}, err
	}
	if p.ReadsAll() || (p.UnitPath != "" && c.Participates(p.UnitPath)) || managesInto(p, c) {
		return c, nil
	}
	return Campaign{}, apperr.NotFoundf("no such campaign")
}

// managesInto reports whether a manager's subtree holds participating units.
func managesInto(p auth.Principal, c Campaign) bool {
	if !p.Has(auth.RoleManager) || p.UnitPath == "" {
		return false
	}
	for _, u := range c.UnitPaths {
		if strings.HasPrefix(u, p.UnitPath) {
			return true
		}
	}
	return false
}

// window resolves the period into inclusive campaign-zone days and the
// instant staff and heads are taken at.
func (b *Boards) window(ctx context.Context, c Campaign, q BoardQuery) (window, error) {
	loc := c.Location
	if loc == nil {
		loc = time.UTC
	}
	w := window{camp: c}
	var err error
	if w.from, w.to, err = periodDays(c, loc, q); err != nil {
		return window{}, err
	}
	now := b.Clock.Now()
	last, _ := time.ParseInLocation(time.DateOnly, w.to, loc)
	w.end = minTime(last.AddDate(0, 0, 1).Add(-time.Microsecond), now, c.End.Add(-time.Microsecond))
	w.open = w.end.Equal(now)
	if f := freezeInstant(c); !now.Before(f) {
		w.freeze = f
	}
	if q.ScopeUnitID != 0 {
		if w.scopePath, err = b.Org.UnitPathAt(ctx, b.DB, q.ScopeUnitID, now); err != nil {
			return window{}, apperr.Field("scope", "no such unit")
		}
	}
	return w, nil
}

// freezeInstant is when a campaign's board freezes: its freeze time, or
// its end when none is set.
func freezeInstant(c Campaign) time.Time {
	if !c.FreezeAt.IsZero() {
		return c.FreezeAt
	}
	return c.End
}

// periodDays returns the inclusive day range of the period.
func periodDays(c Campaign, loc *time.Location, q BoardQuery) (string, string, error) {
	startDay := c.Start.In(loc).Format(time.DateOnly)
	endDay := c.End.Add(-time.Microsecond).In(loc).Format(time.DateOnly)
	switch q.Period {
	case "", "campaign":
		return startDay, endDay, nil
	case "day", "week":
		d, err := time.ParseInLocation(time.DateOnly, q.Date, loc)
		if err != nil {
			return "", "", apperr.Field("date", "must be YYYY-MM-DD")
		}
		if q.Period == "day" {
			return q.Date, q.Date, nil
		}
		mon := d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7))
		return mon.Format(time.DateOnly), mon.AddDate(0, 0, 6).Format(time.DateOnly), nil
	case "range":
		f, err1 := time.ParseInLocation(time.DateOnly, q.From, loc)
		t, err2 := time.ParseInLocation(time.DateOnly, q.To, loc)
		if err1 != nil || err2 != nil || t.Before(f) {
			return "", "", apperr.Field("from", "from and to must be YYYY-MM-DD days, from not after to")
		}
		return q.From, q.To, nil
	}
	return "", "", apperr.Field("period", "must be campaign, day, week or range")
}

func minTime(ts ...time.Time) time.Time {
	m := ts[0]
	for _, t := range ts[1:] {
		if t.Before(m) {
			m = t
		}
	}
	return m
}

// levelKey returns the id a chain counts under at level (0: none).
func levelKey(level string, ch Chain, staffID int64) int64 {
	switch level {
	case LevelStaff:
		return staffID
	case LevelTeam:
		return ch.TeamID
	case LevelSubbranch:
		return ch.SubbranchID
	case LevelBranch:
		return ch.BranchID
	case LevelRegion:
		return ch.RegionID
	}
	return 0
}

// FormatValue renders an entry's value for CSV: amounts in yuan with two
// decimals, other figures with up to six.
func FormatValue(metric string, e BoardEntry) string {
	if e.Value == nil {
		return ""
	}
	if metric == MetricAmount {
		return FormatFen(int64(*e.Value))
	}
	return strconv.FormatFloat(*e.Value, 'f', -1, 64)
}

// FormatFen renders fen as yuan, e.g. 12345 → "123.45".
func FormatFen(fen int64) string {
	sign := ""
	if fen < 0 {
		sign, fen = "-", -fen
	}
	return sign + strconv.FormatInt(fen/100, 10) + "." + strconv.FormatInt(100+fen%100, 10)[1:]
}
