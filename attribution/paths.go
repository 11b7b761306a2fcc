package attribution

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"rmref/internal/apperr"
	"rmref/internal/auth"
	"rmref/internal/db"
)

// customerPath is one customer's touches before one conversion (within
// the lookback window, after their previous conversion), or their touches
// after their last conversion that led to none (Converted false).
type customerPath struct {
	Touches   []Touch
	Converted bool
	At        time.Time // the conversion's instant
	AmountFen int64     // net of reversals
}

// channels returns the path's channel labels in touch order.
func (p customerPath) channels() []string {
	out := make([]string, len(p.Touches))
	for i, t := range p.Touches {
		out[i] = t.Channel
	}
	return out
}

// pathEvent is a touch or conversion of one customer (cluster key).
type pathEvent struct {
	Cluster string `db:"cluster"`
	Kind    string `db:"kind"` // "click", "contact" or "conversion"
	Channel string `db:"channel"`
	At      int64  `db:"at"`
	ID      int64  `db:"id"`
	Amount  int64  `db:"amount"`
}

// campaignPaths builds every customer path of the campaign: clicks on its
// links (anonymous visitors are customers of their own), remote and
// offline contacts, and its attributed conversions. A scope path keeps only
// the clicks and contacts of staff placed in that subtree and the
// conversions with a credit stamped in it ("" keeps everything).
func (s BoardStore) campaignPaths(ctx context.Context, ext sqlx.ExtContext, c Campaign, scope string) ([]customerPath, error) {
	set := c.Settings.WithDefaults()
	from := c.Start.Add(-time.Duration(set.LookbackDays) * Day)
	evs, err := s.pathEvents(ctx, ext, c.ID, db.Micros(from), db.Micros(c.End), scope)
	if err != nil {
		return nil, err
	}
	by := map[string][]pathEvent{}
	var keys []string
	for _, e := range evs {
		if _, ok := by[e.Cluster]; !ok {
			keys = append(keys, e.Cluster)
		}
		by[e.Cluster] = append(by[e.Cluster], e)
	}
	sort.Strings(keys)
	var out []customerPath
	for _, k := range keys {
		out = append(out, splitPaths(by[k], time.Duration(set.LookbackDays)*Day)...)
	}
	return out, nil
}

// splitPaths cuts one customer's events (any order) into paths.
func splitPaths(evs []pathEvent, lookback time.Duration) []customerPath {
	sort.Slice(evs, func(i, j int) bool {
		if evs[i].At != evs[j].At {
			return evs[i].At < evs[j].At
		}
		return evs[i].Kind != "conversion" && evs[j].Kind == "conversion"
	})
	var out []customerPath
	var pending []Touch
	for _, e := range evs {
		at := db.FromMicros(e.At)
		if e.Kind != "conversion" {
			pending = append(pending, Touch{Source: e.Kind, ID: e.ID, At: at, Channel: e.Channel})
			continue
		}
		var in []Touch
		for _, t := range pending {
			if !t.At.Before(at.Add(-lookback)) {
				in = append(in, t)
			}
		}
		out = append(out, customerPath{Touches: in, Converted: true, At: at, AmountFen: e.Amount})
		pending = nil
	}
	if len(pending) > 0 {
		out = append(out, customerPath{Touches: pending})
	}
	return out
}

// pathEvents reads the campaign's clicks, contacts and conversions in
// [from, to) with the customer each belongs to, within the scope path.
func (s BoardStore) pathEvents(ctx context.Context, ext sqlx.ExtContext, campaignID, from, to int64, scope string) ([]pathEvent, error) {
	staffIn, convIn := "", ""
	var sargs, cargs []any
	if scope != "" {
		lo, hi := auth.PathRange(scope)
		staffIn = ` AND %s IN (SELECT s.id FROM staff s JOIN org_units u ON u.id = s.unit_id WHERE u.path >= ? AND u.path < ?)`
		convIn = ` WHERE EXISTS (SELECT 1 FROM credits k WHERE k.conversion_id = c.id AND k.campaign_id = ? AND k.unit_path >= ? AND k.unit_path < ?)`
		sargs, cargs = []any{lo, hi}, []any{campaignID, lo, hi}
	}
	q := `SELECT COALESCE(` + s.castText("i.cluster_id") + `, ` + s.concat("'v:'", "r.visitor_id") + `) AS cluster, 'click' AS kind,
			r.channel AS channel, r.at AS at, r.id AS id, 0 AS amount
		FROM referral_clicks r LEFT JOIN customer_identifiers i ON i.kind = 'visitor_id' AND i.value = r.visitor_id
		WHERE r.campaign_id = ? AND r.bot = 0 AND r.at >= ? AND r.at < ?` + scoped(staffIn, "r.staff_id") + `
		UNION ALL
		SELECT ` + s.castText("i.cluster_id") + ` AS cluster, 'contact' AS kind, ` + s.concat("t.channel", "':'", "t.kind") + ` AS channel,
			t.occurred_at AS at, t.id AS id, 0 AS amount
		FROM touches t JOIN customer_identifiers i ON i.id = t.identifier_id
		WHERE t.campaign_id IN (0, ?) AND t.occurred_at >= ? AND t.occurred_at < ?` + scoped(staffIn, "t.staff_id") + `
		UNION ALL
		SELECT ` + s.castText("i.cluster_id") + ` AS cluster, 'conversion' AS kind, c.type AS channel, c.occurred_at AS at, c.id AS id,
			c.amount_fen - c.reversed_fen AS amount
		FROM conversions c JOIN attributions a ON a.conversion_id = c.id AND a.campaign_id = ?
		JOIN customer_identifiers i ON i.id = c.identifier_id` + convIn
	args := append([]any{campaignID, from, to}, sargs...)
	args = append(append(args, campaignID, from, to), sargs...)
	args = append(append(args, campaignID), cargs...)
	var rows []pathEvent
	if err := sqlx.SelectContext(ctx, ext, &rows, q, args...); err != nil {
		return nil, fmt.Errorf("attribution: path events: %w", err)
	}
	return rows, nil
}

// scoped fills the staff column into a staff subtree condition ("" stays "").
func scoped(cond, col string) string {
	if cond == "" {
		return ""
	}
	return fmt.Sprintf(cond, col)
}

// castText renders an integer column as text in either dialect.
func (s BoardStore) castText(col string) string {
	if s.Dialect != nil && s.Dialect.Name() == "mysql" {
		return "CAST(" + col + " AS CHAR)"
	}
	return "CAST(" + col + " AS TEXT)"
}

// concat joins text expressions in either dialect.
func (s BoardStore) concat(parts ...string) string {
	if s.Dialect != nil && s.Dialect.Name() == "mysql" {
		return "CONCAT(" + strings.Join(parts, ", ") + ")"
	}
	return "(" + strings.Join(parts, " || ") + ")"
}

// PathCount is one channel path with how often it ended in a conversion
// and how often in none.
type PathCount struct {
	Path        string   `json:"path"` // channels joined by " > "
	Channels    []string `json:"channels"`
	Paths       int64    `json:"paths"`
	Conversions int64    `json:"conversions"`
	Nulls       int64    `json:"nulls"`
	Rate        float64  `json:"conversion_rate"` // conversions / paths
}

// PathsReport lists the most common paths before a conversion and before
// none.
type PathsReport struct {
	CampaignID   int64       `json:"campaign_id,string"`
	Converting   []PathCount `json:"converting"`
	Unconverting []PathCount `json:"non_converting"`
	TotalPaths   int64       `json:"total_paths"`
}

// aggregatePaths counts paths by their channel sequence (consecutive
// repeats of a channel collapsed); conversions without touches count under
// the empty path "(direct)".
func aggregatePaths(ps []customerPath) []PathCount {
	m := map[string]*PathCount{}
	for _, p := range ps {
		chs := collapse(p.channels())
		key := strings.Join(chs, " > ")
		if key == "" {
			key = "(direct)"
		}
		pc, ok := m[key]
		if !ok {
			pc = &PathCount{Path: key, Channels: chs}
			m[key] = pc
		}
		pc.Paths++
		if p.Converted {
			pc.Conversions++
		} else {
			pc.Nulls++
		}
	}
	out := make([]PathCount, 0, len(m))
	for _, pc := range m {
		pc.Rate = float64(pc.Conversions) / float64(pc.Paths)
		out = append(out, *pc)
	}
	return out
}

// topPaths returns up to limit paths, most frequent first (by the count
// that matters for the list), ties by path.
func topPaths(all []PathCount, limit int, converting bool) []PathCount {
	count := func(p PathCount) int64 {
		if converting {
			return p.Conversions
		}
		return p.Nulls
	}
	out := []PathCount{}
	for _, p := range all {
		if count(p) > 0 {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if count(out[i]) != count(out[j]) {
			return count(out[i]) > count(out[j])
		}
		return out[i].Path < out[j].Path
	})
	return out[:min(limit, len(out))]
}

// reportScope loads the campaign of a channel or path report with the
// subtree the caller sees: all of it for hq_admin, auditors and campaign
// managers, their own subtree for a manager whose subtree takes part;
// anyone else gets NotFound.
func (b *Boards) reportScope(ctx context.Context, p auth.Principal, campaignID int64) (Campaign, string, error) {
	c, err := b.Campaigns.Campaign(ctx, b.DB, campaignID)
	if err != nil {
		return Campaign{}, "", err
	}
	if p.ReadsAll() || p.Has(auth.RoleCampaignManager) {
		return c, "", nil
	}
	if p.Has(auth.RoleManager) && p.UnitPath != "" && (c.Participates(p.UnitPath) || managesInto(p, c)) {
		return c, p.UnitPath, nil
	}
	return Campaign{}, "", apperr.NotFoundf("no such campaign")
}

// Paths returns the campaign's most common channel paths over the whole
// campaign; the caller checks the role (PathsFor scopes by principal).
func (b *Boards) Paths(ctx context.Context, campaignID int64, limit int) (PathsReport, error) {
	c, err := b.Campaigns.Campaign(ctx, b.DB, campaignID)
	if err != nil {
		return PathsReport{}, err
	}
	return b.pathsIn(ctx, c, "", limit)
}

// PathsFor is Paths as the caller may see it: the whole campaign for
// hq_admin, auditors and campaign managers; for a manager only the clicks
// and contacts of staff placed in their subtree and the conversions with a
// credit stamped in it; NotFound for anyone else.
func (b *Boards) PathsFor(ctx context.Context, p auth.Principal, campaignID int64, limit int) (PathsReport, error) {
	c, scope, err := b.reportScope(ctx, p, campaignID)
	if err != nil {
		return PathsReport{}, err
	}
	return b.pathsIn(ctx, c, scope, limit)
}

// pathsIn counts the campaign's paths within scope.
func (b *Boards) pathsIn(ctx context.Context, c Campaign, scope string, limit int) (PathsReport, error) {
	ps, err := b.Store.campaignPaths(ctx, b.DB, c, scope)
	if err != nil {
		return PathsReport{}, err
	}
	all := aggregatePaths(ps)
	return PathsReport{CampaignID: c.ID, Converting: topPaths(all, limit, true), Unconverting: topPaths(all, limit, false),
		TotalPaths: int64(len(ps))}, nil
}
