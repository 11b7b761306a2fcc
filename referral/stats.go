package referral

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jmoiron/sqlx"

	"rmref/internal/auth"
	"rmref/internal/db"
)

// Share is one share event reported by the staff H5 page.
type Share struct {
	ID         int64     `json:"id,string"`
	StaffID    int64     `json:"staff_id,string"`
	CampaignID int64     `json:"campaign_id,string"`
	Channel    Channel   `json:"channel"`
	At         time.Time `json:"at"`
	Day        string    `json:"date"`
}

// RecordShare records that staff member p shared a campaign (0: the
// general link) on a channel. The campaign must be one they take part in.
func (s *Service) RecordShare(ctx context.Context, p auth.Principal, campaignID int64, ch Channel) (Share, error) {
	loc := s.cfg.Location
	if campaignID != 0 {
		camp, err := s.checkParticipation(ctx, campaignID, p.UnitPath)
		if err != nil {
			return Share{}, err
		}
		loc = s.zoneOf(camp)
	}
	now := s.clock.Now()
	sh := Share{StaffID: p.StaffID, CampaignID: campaignID, Channel: ch, At: now, Day: now.In(loc).Format(time.DateOnly)}
	id, err := insertShare(ctx, s.db, sh)
	sh.ID = id
	return sh, err
}

// Stats are a staff member's share and click figures for one campaign (or
// their general code, campaign 0). Bot clicks are excluded everywhere;
// Clicks and UniqueVisitors count counted clicks only.
type Stats struct {
	StaffID        int64          `json:"staff_id,string"`
	CampaignID     int64          `json:"campaign_id,string"`
	Timezone       string         `json:"timezone"`
	Shares         int64          `json:"shares"`
	Clicks         int64          `json:"clicks"`
	UniqueVisitors int64          `json:"unique_visitors"`
	NotCounted     int64          `json:"not_counted"`
	ByChannel      []ChannelStats `json:"by_channel"`
	ByDay          []DayStats     `json:"by_day"`
}

// ChannelStats are figures for one channel.
type ChannelStats struct {
	Channel        Channel `json:"channel"`
	Shares         int64   `json:"shares"`
	Clicks         int64   `json:"clicks"`
	UniqueVisitors int64   `json:"unique_visitors"`
}

// DayStats are figures for one day in the campaign's timezone.
type DayStats struct {
	Date           string `json:"date"`
	Shares         int64  `json:"shares"`
	Clicks         int64  `json:"clicks"`
	UniqueVisitors int64  `json:"unique_visitors"`
}

const staffInScopeQuery = `SELECT s.id, s.name, s.status, s.unit_id, u.name AS unit_name, u.path AS unit_path
	FROM staff s JOIN org_units u ON u.id = s.unit_id WHERE s.id = ? AND u.path >= ? AND u.path < ?`

// staffInScope returns the staff member if p may read them: themself, a
// manager's subtree, or everyone for hq_admin and auditor.
func staffInScope(ctx context.Context, ext sqlx.ExtContext, p auth.Principal, staffID int64) (staffRow, error) {
	if p.StaffID == staffID {
		return getStaff(ctx, ext, staffID)
	}
	prefix, ok := p.ScopePath()
	if !ok || (prefix == "" && !p.ReadsAll()) {
		return staffRow{}, ErrNotInScope
	}
	if prefix == "" {
		return getStaff(ctx, ext, staffID)
	}
	lo, hi := auth.PathRange(prefix)
	var r staffRow
	if err := sqlx.GetContext(ctx, ext, &r, staffInScopeQuery, staffID, lo, hi); err != nil {
		if errors.Is(err, db.ErrNoRows) {
			return staffRow{}, ErrNotInScope
		}
		return staffRow{}, fmt.Errorf("referral: staff in scope: %w", err)
	}
	return r, nil
}

// Stats returns a staff member's figures for a campaign, if p may read
// them (else ErrNotInScope: 404).
func (s *Service) Stats(ctx context.Context, p auth.Principal, staffID, campaignID int64) (Stats, error) {
	if _, err := staffInScope(ctx, s.db, p, staffID); err != nil {
		return Stats{}, err
	}
	loc := s.cfg.Location
	if campaignID != 0 {
		camp, err := s.campaigns.Campaign(ctx, campaignID)
		if err != nil {
			return Stats{}, err
		}
		loc = s.zoneOf(camp)
	}
	st := Stats{StaffID: staffID, CampaignID: campaignID, Timezone: loc.String()}
	if err := loadStats(ctx, s.db, &st); err != nil {
		return Stats{}, err
	}
	return st, nil
}

const (
	clickTotalsQuery = `SELECT
		COALESCE(SUM(CASE WHEN counted = 1 THEN 1 ELSE 0 END), 0) AS clicks,
		COUNT(DISTINCT CASE WHEN counted = 1 THEN visitor_id END) AS visitors,
		COALESCE(SUM(CASE WHEN counted = 0 THEN 1 ELSE 0 END), 0) AS not_counted
		FROM referral_clicks WHERE staff_id = ? AND campaign_id = ? AND bot = 0`
	clicksByQuery = `SELECT %[1]s AS k, COUNT(*) AS clicks, COUNT(DISTINCT visitor_id) AS visitors
		FROM referral_clicks WHERE staff_id = ? AND campaign_id = ? AND bot = 0 AND counted = 1
		GROUP BY %[1]s ORDER BY %[1]s`
	sharesByQuery = `SELECT %[1]s AS k, COUNT(*) AS n FROM referral_shares
		WHERE staff_id = ? AND campaign_id = ? GROUP BY %[1]s ORDER BY %[1]s`
)

type groupRow struct {
	K        string `db:"k"`
	Clicks   int64  `db:"clicks"`
	Visitors int64  `db:"visitors"`
	N        int64  `db:"n"`
}

func loadStats(ctx context.Context, ext sqlx.ExtContext, st *Stats) error {
	var tot struct {
		Clicks     int64 `db:"clicks"`
		Visitors   int64 `db:"visitors"`
		NotCounted int64 `db:"not_counted"`
	}
	if err := sqlx.GetContext(ctx, ext, &tot, clickTotalsQuery, st.StaffID, st.CampaignID); err != nil {
		return fmt.Errorf("referral: stats: %w", err)
	}
	st.Clicks, st.UniqueVisitors, st.NotCounted = tot.Clicks, tot.Visitors, tot.NotCounted
	chClicks, chShares, err := grouped(ctx, ext, "channel", st)
	if err != nil {
		return err
	}
	dayClicks, dayShares, err := grouped(ctx, ext, "day", st)
	if err != nil {
		return err
	}
	st.ByChannel = byChannel(chClicks, chShares)
	st.ByDay = byDay(dayClicks, dayShares)
	for _, n := range chShares {
		st.Shares += n
	}
	return nil
}

func grouped(ctx context.Context, ext sqlx.ExtContext, col string, st *Stats) (map[string]groupRow, map[string]int64, error) {
	var cr, sr []groupRow
	if err := sqlx.SelectContext(ctx, ext, &cr, fmt.Sprintf(clicksByQuery, col), st.StaffID, st.CampaignID); err != nil {
		return nil, nil, fmt.Errorf("referral: stats by %s: %w", col, err)
	}
	if err := sqlx.SelectContext(ctx, ext, &sr, fmt.Sprintf(sharesByQuery, col), st.StaffID, st.CampaignID); err != nil {
		return nil, nil, fmt.Errorf("referral: shares by %s: %w", col, err)
	}
	clicks := make(map[string]groupRow, len(cr))
	for _, r := range cr {
		clicks[r.K] = r
	}
	shares := make(map[string]int64, len(sr))
	for _, r := range sr {
		shares[r.K] = r.N
	}
	return clicks, shares, nil
}

func byChannel(clicks map[string]groupRow, shares map[string]int64) []ChannelStats {
	out := []ChannelStats{}
	for _, ch := range Channels {
		c, sh := clicks[string(ch)], shares[string(ch)]
		if c.Clicks == 0 && sh == 0 {
			continue
		}
		out = append(out, ChannelStats{Channel: ch, Shares: sh, Clicks: c.Clicks, UniqueVisitors: c.Visitors})
	}
	return out
}

func byDay(clicks map[string]groupRow, shares map[string]int64) []DayStats {
	days := map[string]bool{}
	for d := range clicks {
		days[d] = true
	}
	for d := range shares {
		days[d] = true
	}
	keys := make([]string, 0, len(days))
	for d := range days {
		keys = append(keys, d)
	}
	slices.Sort(keys)
	out := make([]DayStats, len(keys))
	for i, d := range keys {
		out[i] = DayStats{Date: d, Shares: shares[d], Clicks: clicks[d].Clicks, UniqueVisitors: clicks[d].Visitors}
	}
	return out
}
