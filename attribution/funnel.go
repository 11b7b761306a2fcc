package attribution

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/jmoiron/sqlx"

	"rmref/internal/apperr"
	"rmref/internal/auth"
)

// Funnel is a campaign's shares → clicks → unique visitors → credited
// conversions of each type, per day or week, within the caller's scope.
type Funnel struct {
	CampaignID int64          `json:"campaign_id,string"`
	UnitID     int64          `json:"unit_id,string"`
	By         string         `json:"by"`
	Steps      []string       `json:"steps"`
	Periods    []FunnelPeriod `json:"periods"`
	Total      FunnelPeriod   `json:"total"`
	AmountFen  int64          `json:"amount_fen"` // credited fen in the caller's scope
}

// FunnelPeriod holds one period's figures per step and the rate of each
// step over the one before it (nil when that one is zero).
type FunnelPeriod struct {
	Period string              `json:"period"` // the day, or the week's Monday
	Counts map[string]float64  `json:"counts"`
	Rates  map[string]*float64 `json:"rates"`

	visitors map[string]bool
}

// FunnelQuery selects a funnel.
type FunnelQuery struct {
	UnitID int64  // 0: everything in the caller's scope
	By     string // day (default) or week
}

// funnelScope is the SQL condition a funnel's rows must meet.
type funnelScope struct {
	staffID int64  // a plain staff member sees only their own figures
	path    string // managers: their subtree (or the asked unit's); "" for all
}

// Funnel computes the campaign's funnel for the caller.
func (b *Boards) Funnel(ctx context.Context, p auth.Principal, campaignID int64, q FunnelQuery) (Funnel, error) {
	if q.By == "" {
		q.By = "day"
	}
	if q.By != "day" && q.By != "week" {
		return Funnel{}, apperr.Field("by", "must be day or week")
	}
	c, err := b.visibleCampaign(ctx, p, campaignID)
	if err != nil {
		return Funnel{}, err
	}
	sc, err := b.funnelScope(ctx, p, q.UnitID)
	if err != nil {
		return Funnel{}, err
	}
	periods := map[string]*FunnelPeriod{}
	get := func(day string) *FunnelPeriod {
		key := bucket(day, q.By)
		fp, ok := periods[key]
		if !ok {
			fp = &FunnelPeriod{Period: key, Counts: map[string]float64{}, visitors: map[string]bool{}}
			periods[key] = fp
		}
		return fp
	}
	var fen int64
	types, err := b.fillFunnel(ctx, c.ID, sc, get, &fen)
	if err != nil {
		return Funnel{}, err
	}
	f := assembleFunnel(c.ID, q, types, periods)
	f.AmountFen = fen
	return f, nil
}

// funnelScope resolves what the caller may see: a staff member only
// themself, a manager their subtree, hq_admin and auditors everything; an
// asked unit outside that is NotFound.
func (b *Boards) funnelScope(ctx context.Context, p auth.Principal, unitID int64) (funnelScope, error) {
	prefix, ok := p.ScopePath()
	if !ok {
		if unitID != 0 {
			return funnelScope{}, apperr.NotFoundf("no such unit")
		}
		return funnelScope{staffID: p.StaffID}, nil
	}
	if unitID == 0 {
		return funnelScope{path: prefix}, nil
	}
	path, err := b.Org.UnitPathAt(ctx, b.DB, unitID, b.Clock.Now())
	if err != nil || len(path) < len(prefix) || path[:len(prefix)] != prefix {
		return funnelScope{}, apperr.NotFoundf("no such unit")
	}
	return funnelScope{path: path}, nil
}

// fillFunnel reads shares, clicks and credits into the periods and
// returns the conversion types seen.
func (b *Boards) fillFunnel(ctx context.Context, campaignID int64, sc funnelScope, get func(string) *FunnelPeriod, fen *int64) ([]string, error) {
	shares, err := b.Store.funnelShares(ctx, b.DB, campaignID, sc)
	if err != nil {
		return nil, err
	}
	for _, r := range shares {
		get(r.Day).Counts["shares"] += float64(r.N)
	}
	clicks, err := b.Store.funnelClicks(ctx, b.DB, campaignID, sc)
	if err != nil {
		return nil, err
	}
	for _, r := range clicks {
		fp := get(r.Day)
		fp.Counts["clicks"] += float64(r.N)
		fp.visitors[r.Visitor] = true
	}
	convs, err := b.Store.funnelConversions(ctx, b.DB, campaignID, sc)
	if err != nil {
		return nil, err
	}
	totals := map[string]int64{}
	for _, r := range convs {
		get(r.Day).Counts[r.Type] += float64(r.Weight) / WeightScale
		totals[r.Type] += r.Weight
		*fen += r.Fen
	}
	types := make([]string, 0, len(totals))
	for t := range totals {
		types = append(types, t)
	}
	sort.Slice(types, func(i, j int) bool {
		if totals[types[i]] != totals[types[j]] {
			return totals[types[i]] > totals[types[j]]
		}
		return types[i] < types[j]
	})
	return types, nil
}

// assembleFunnel orders the periods, sums the total and fills the rates.
func assembleFunnel(campaignID int64, q FunnelQuery, types []string, periods map[string]*FunnelPeriod) Funnel {
	steps := append([]string{"shares", "clicks", "unique_visitors"}, types...)
	f := Funnel{CampaignID: campaignID, UnitID: q.UnitID, By: q.By, Steps: steps, Periods: []FunnelPeriod{}}
	total := FunnelPeriod{Period: "total", Counts: map[string]float64{}, visitors: map[string]bool{}}
	keys := make([]string, 0, len(periods))
	for k := range periods {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fp := periods[k]
		for v := range fp.visitors {
			total.visitors[v] = true
		}
		for s, n := range fp.Counts {
			total.Counts[s] += n
		}
		fp.Counts["unique_visitors"] = float64(len(fp.visitors))
		f.Periods = append(f.Periods, fp.withRates(steps))
	}
	total.Counts["unique_visitors"] = float64(len(total.visitors))
	f.Total = total.withRates(steps)
	return f
}

// withRates fills every step (zero when absent) and its rate over the
// step before it.
func (fp *FunnelPeriod) withRates(steps []string) FunnelPeriod {
	fp.Rates = map[string]*float64{}
	for i, s := range steps {
		fp.Counts[s] += 0
		if i == 0 {
			continue
		}
		if prev := fp.Counts[steps[i-1]]; prev > 0 {
			r := math.Round(fp.Counts[s]/prev*WeightScale) / WeightScale
			fp.Rates[s] = &r
		} else {
			fp.Rates[s] = nil
		}
	}
	return *fp
}

// bucket maps a day to its period: itself, or its week's Monday.
func bucket(day, by string) string {
	if by != "week" {
		return day
	}
	d, err := time.Parse(time.DateOnly, day)
	if err != nil {
		return day
	}
	return d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7)).Format(time.DateOnly)
}

type funnelCount struct {
	Day     string `db:"day"`
	Visitor string `db:"visitor_id"`
	N       int64  `db:"n"`
}

type funnelConv struct {
	Day    string `db:"day"`
	Type   string `db:"type"`
	Weight int64  `db:"w"`
	Fen    int64  `db:"f"`
}

// referralScope restricts share or click rows (alias r) to the scope by
// the sharing staff member's current unit.
func referralScope(sc funnelScope, args []any) (string, []any) {
	if sc.staffID != 0 {
		return " AND r.staff_id = ?", append(args, sc.staffID)
	}
	if sc.path == "" {
		return "", args
	}
	cond, args := pathFilter("u.path", sc.path, args)
	return " AND r.staff_id IN (SELECT s.id FROM staff s JOIN org_units u ON u.id = s.unit_id WHERE 1 = 1" + cond + ")", args
}

func (s BoardStore) funnelShares(ctx context.Context, ext sqlx.ExtContext, campaignID int64, sc funnelScope) ([]funnelCount, error) {
	cond, args := referralScope(sc, []any{campaignID})
	var rows []funnelCount
	err := sqlx.SelectContext(ctx, ext, &rows, `SELECT r.day, '' AS visitor_id, COUNT(*) AS n FROM referral_shares r
		WHERE r.campaign_id = ?`+cond+` GROUP BY r.day`, args...)
	if err != nil {
		return nil, fmt.Errorf("attribution: funnel shares: %w", err)
	}
	return rows, nil
}

func (s BoardStore) funnelClicks(ctx context.Context, ext sqlx.ExtContext, campaignID int64, sc funnelScope) ([]funnelCount, error) {
	cond, args := referralScope(sc, []any{campaignID})
	var rows []funnelCount
	err := sqlx.SelectContext(ctx, ext, &rows, `SELECT r.day, r.visitor_id, COUNT(*) AS n FROM referral_clicks r
		WHERE r.campaign_id = ? AND r.counted = 1`+cond+` GROUP BY r.day, r.visitor_id`, args...)
	if err != nil {
		return nil, fmt.Errorf("attribution: funnel clicks: %w", err)
	}
	return rows, nil
}

func (s BoardStore) funnelConversions(ctx context.Context, ext sqlx.ExtContext, campaignID int64, sc funnelScope) ([]funnelConv, error) {
	q := `SELECT c.day, v.type, SUM(c.weight_micro) AS w, SUM(c.credited_fen) AS f FROM credits c JOIN conversions v ON v.id = c.conversion_id WHERE c.campaign_id = ?`
	args := []any{campaignID}
	switch {
	case sc.staffID != 0:
		q, args = q+` AND c.staff_id = ?`, append(args, sc.staffID)
	case sc.path != "":
		var cond string
		cond, args = pathFilter("c.unit_path", sc.path, args)
		q += cond
	}
	var rows []funnelConv
	if err := sqlx.SelectContext(ctx, ext, &rows, q+` GROUP BY c.day, v.type`, args...); err != nil {
		return nil, fmt.Errorf("attribution: funnel conversions: %w", err)
	}
	return rows, nil
}
