package attribution

import (
	"context"
	"fmt"
	"sort"
	"strconv"

	"github.com/jmoiron/sqlx"

	"rmref/customer"
	"rmref/internal/apperr"
	"rmref/internal/audit"
	"rmref/internal/auth"
)

// WhatIfRow compares one staff member's live credits in a campaign with
// the credits other settings would give.
type WhatIfRow struct {
	StaffID    int64  `json:"staff_id,string"`
	LiveFen    int64  `json:"live_fen"`
	LiveWeight Weight `json:"live_weight"`
	NewFen     int64  `json:"what_if_fen"`
	NewWeight  Weight `json:"what_if_weight"`
}

// WhatIfReport is the outcome of a what-if run.
type WhatIfReport struct {
	CampaignID  int64       `json:"campaign_id,string"`
	Live        Settings    `json:"live_settings"`
	WhatIf      Settings    `json:"what_if_settings"`
	Conversions int         `json:"conversions"`
	Changed     int         `json:"changed_conversions"`
	Staff       []WhatIfRow `json:"staff"`
}

// ValidateSettings checks attribution settings given by a caller.
func ValidateSettings(s Settings) error {
	var c apperr.Collector
	c.Check(s.Model != "" && !ValidModel(s.Model), "model", "must be one of last_touch, first_touch, linear, time_decay, position_based")
	c.Check(s.LookbackDays < 0 || s.LookbackDays > 365, "lookback_days", "must be 1 to 365")
	c.Check(s.HalfLifeDays < 0 || s.HalfLifeDays > 365, "half_life_days", "must be 1 to 365")
	c.Check(s.ProtectionDays < 0 || s.ProtectionDays > 365, "protection_days", "must be 0 to 365")
	return c.Err()
}

// campaignConversions lists the ids of the conversions attributed in a
// campaign, in time order.
func (s Store) campaignConversions(ctx context.Context, ext sqlx.ExtContext, campaignID int64) ([]int64, error) {
	var ids []int64
	if err := sqlx.SelectContext(ctx, ext, &ids, `SELECT conversion_id FROM attributions WHERE campaign_id = ? ORDER BY occurred_at, conversion_id`, campaignID); err != nil {
		return nil, fmt.Errorf("attribution: campaign conversions: %w", err)
	}
	return ids, nil
}

// WhatIf recomputes a campaign's credits under other settings into a
// report, without touching live credits. Protection periods are taken as
// the live attribution decided them.
func (s *Service) WhatIf(ctx context.Context, p auth.Principal, campaignID int64, set Settings) (WhatIfReport, error) {
	if !p.HasAny(auth.RoleHQAdmin, auth.RoleCampaignManager, auth.RoleAuditor) {
		return WhatIfReport{}, apperr.Forbiddenf("requires hq_admin, campaign_manager or auditor")
	}
	if err := ValidateSettings(set); err != nil {
		return WhatIfReport{}, err
	}
	c, err := s.Campaigns.Campaign(ctx, s.DB, campaignID)
	if err != nil {
		return WhatIfReport{}, err
	}
	rep := WhatIfReport{CampaignID: c.ID, Live: c.Settings.WithDefaults(), WhatIf: set.WithDefaults(), Staff: []WhatIfRow{}}
	alt := c
	alt.Settings = set
	rows := map[int64]*WhatIfRow{}
	ids, err := s.Store.campaignConversions(ctx, s.DB, c.ID)
	if err != nil {
		return rep, err
	}
	for _, id := range ids {
		changed, err := s.whatIfOne(ctx, id, c, alt, rows)
		if err != nil {
			return rep, err
		}
		rep.Conversions++
		if changed {
			rep.Changed++
		}
	}
	for _, r := range rows {
		rep.Staff = append(rep.Staff, *r)
	}
	sort.Slice(rep.Staff, func(i, j int) bool { return rep.Staff[i].StaffID < rep.Staff[j].StaffID })
	return rep, nil
}

func (s *Service) whatIfOne(ctx context.Context, id int64, live, alt Campaign, rows map[int64]*WhatIfRow) (bool, error) {
	row, err := s.Store.conversionByID(ctx, s.DB, id, false)
	if err != nil {
		return false, fmt.Errorf("attribution: what-if %d: %w", id, err)
	}
	cl, err := s.clusterOf(ctx, s.DB, row)
	if err != nil {
		return false, err
	}
	g, err := s.gather(ctx, s.DB, row, cl, []Campaign{live, alt}, false)
	if err != nil {
		return false, err
	}
	res, err := s.decide(ctx, s.DB, g, alt)
	if err != nil {
		return false, err
	}
	fresh, err := s.creditRows(ctx, s.DB, row, alt, res, s.Clock.Now())
	if err != nil {
		return false, err
	}
	old, err := s.Store.credits(ctx, s.DB, id, live.ID)
	if err != nil {
		return false, err
	}
	at := func(staff int64) *WhatIfRow {
		if rows[staff] == nil {
			rows[staff] = &WhatIfRow{StaffID: staff}
		}
		return rows[staff]
	}
	for _, c := range old {
		r := at(c.StaffID)
		r.LiveFen += c.CreditedFen
		r.LiveWeight += Weight(c.WeightMicro)
	}
	for _, c := range fresh {
		r := at(c.StaffID)
		r.NewFen += c.CreditedFen
		r.NewWeight += Weight(c.WeightMicro)
	}
	return !sameCredits(old, fresh), nil
}

// clusterOf returns the customer cluster of a conversion.
func (s *Service) clusterOf(ctx context.Context, ext sqlx.ExtContext, row conversionRow) (customer.Cluster, error) {
	root, err := s.Customers.Store.RootOfID(ctx, ext, row.IdentifierID)
	if err != nil {
		return customer.Cluster{}, err
	}
	return s.Customers.Store.Cluster(ctx, ext, root)
}

// ReattributeCampaign applies the campaign's current settings to all its
// conversions (after a settings change), in time order, audited; rollups
// are adjusted by deltas so they stay equal to a rebuild from credits.
func (s *Service) ReattributeCampaign(ctx context.Context, p auth.Principal, campaignID int64) (int, error) {
	if !p.HasAny(auth.RoleHQAdmin, auth.RoleCampaignManager) {
		return 0, apperr.Forbiddenf("requires hq_admin or campaign_manager")
	}
	if _, err := s.Campaigns.Campaign(ctx, s.DB, campaignID); err != nil {
		return 0, err
	}
	ids, err := s.Store.campaignConversions(ctx, s.DB, campaignID)
	if err != nil {
		return 0, err
	}
	now := s.Clock.Now()
	for _, id := range ids {
		err := s.inTx(ctx, func(tx *sqlx.Tx) error { return s.reattributeOne(ctx, tx, id, "settings_change", p.Actor(), now) })
		if err != nil {
			return 0, err
		}
	}
	err = s.inTx(ctx, func(tx *sqlx.Tx) error {
		return audit.Record(ctx, tx, audit.Entry{At: now, Actor: p.Actor(), Action: "campaign.reattribute", EntityType: "campaign",
			EntityID: strconv.FormatInt(campaignID, 10), Detail: map[string]any{"conversions": len(ids)}})
	})
	return len(ids), err
}
