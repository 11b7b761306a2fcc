package attribution

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"rmref/internal/auth"
	"rmref/internal/db"
)

// CreditView is one stored credit.
type CreditView struct {
	StaffID     int64  `json:"staff_id,string"`
	Kind        string `json:"kind"` // attribution or reversal
	Weight      Weight `json:"weight"`
	CreditedFen int64  `json:"credited_fen"`
	Day         string `json:"day"`
	Chain       Chain  `json:"chain"`
}

// AttributionView is a conversion's outcome in one campaign.
type AttributionView struct {
	CampaignID  int64        `json:"campaign_id,string"`
	Rule        Rule         `json:"rule"`
	Reason      string       `json:"reason,omitempty"`
	Version     int          `json:"version"`
	CreditedFen int64        `json:"credited_fen"`
	Credits     []CreditView `json:"credits"`
}

// ConversionView is a stored conversion with its attributions.
type ConversionView struct {
	ID           int64             `json:"id,string"`
	Source       string            `json:"source"`
	ExternalID   string            `json:"external_id"`
	Type         string            `json:"type"`
	CustomerID   string            `json:"customer_id,omitempty"`
	AmountFen    int64             `json:"amount_fen"`
	ReversedFen  int64             `json:"reversed_fen"`
	ProductCode  string            `json:"product_code,omitempty"`
	Channel      string            `json:"channel"`
	SubChannel   string            `json:"sub_channel,omitempty"`
	OccurredAt   time.Time         `json:"occurred_at"`
	CreatedAt    time.Time         `json:"created_at"`
	Attributions []AttributionView `json:"attributions"`
}

func creditView(c creditRow) CreditView {
	return CreditView{StaffID: c.StaffID, Kind: c.Kind, Weight: Weight(c.WeightMicro), CreditedFen: c.CreditedFen, Day: c.Day, Chain: c.chain()}
}

// newView is the view of a conversion row without attributions.
func newView(r conversionRow) ConversionView {
	return ConversionView{ID: r.ID, Source: r.Source, ExternalID: r.ExternalID, Type: r.Type, CustomerID: r.CustomerNo, AmountFen: r.AmountFen,
		ReversedFen: r.ReversedFen, ProductCode: r.ProductCode, Channel: r.Channel, SubChannel: r.SubChannel,
		OccurredAt: db.FromMicros(r.OccurredAt), CreatedAt: db.FromMicros(r.CreatedAt), Attributions: []AttributionView{}}
}

// attributionView is a campaign's outcome with its credits (in id order).
func attributionView(campaignID int64, res Result, version int, crs []creditRow) AttributionView {
	av := AttributionView{CampaignID: campaignID, Rule: res.Rule, Reason: res.Reason, Version: version, Credits: []CreditView{}}
	for _, c := range crs {
		av.Credits = append(av.Credits, creditView(c))
		av.CreditedFen += c.CreditedFen
	}
	return av
}

// view loads a conversion with its attributions and credits.
func (s *Service) view(ctx context.Context, ext sqlx.ExtContext, id int64) (ConversionView, error) {
	r, err := s.Store.conversionByID(ctx, ext, id, false)
	if errors.Is(err, db.ErrNoRows) {
		return ConversionView{}, ErrNotFound
	}
	if err != nil {
		return ConversionView{}, fmt.Errorf("attribution: conversion: %w", err)
	}
	v := newView(r)
	atts, err := s.Store.attributions(ctx, ext, id)
	if err != nil {
		return ConversionView{}, err
	}
	for _, a := range atts {
		crs, err := s.Store.credits(ctx, ext, id, a.CampaignID)
		if err != nil {
			return ConversionView{}, err
		}
		v.Attributions = append(v.Attributions, attributionView(a.CampaignID, Result{Rule: Rule(a.Rule), Reason: a.Reason}, a.Version, crs))
	}
	return v, nil
}

// CampaignExplanation is the full story of one campaign's decision.
type CampaignExplanation struct {
	Result
	Version     int          `json:"version"`
	LiveCredits []CreditView `json:"live_credits"`
	Disputes    []Dispute    `json:"disputes"`
	Adjustments []Adjustment `json:"adjustments"`
}

// Explanation answers GET /conversions/{id}/attribution.
type Explanation struct {
	Conversion ConversionView        `json:"conversion"`
	Campaigns  []CampaignExplanation `json:"campaigns"`
}

// Conversion returns a conversion the caller may see.
func (s *Service) Conversion(ctx context.Context, p auth.Principal, id int64) (ConversionView, error) {
	if err := s.visible(ctx, s.DB, p, id); err != nil {
		return ConversionView{}, err
	}
	return s.view(ctx, s.DB, id)
}

// Explain returns why the conversion was credited as it was: touches
// considered and excluded with reasons, model and settings, credits,
// disputes and adjustments.
func (s *Service) Explain(ctx context.Context, p auth.Principal, id int64) (Explanation, error) {
	if err := s.visible(ctx, s.DB, p, id); err != nil {
		return Explanation{}, err
	}
	v, err := s.view(ctx, s.DB, id)
	if err != nil {
		return Explanation{}, err
	}
	atts, err := s.Store.attributions(ctx, s.DB, id)
	if err != nil {
		return Explanation{}, err
	}
	out := Explanation{Conversion: v, Campaigns: []CampaignExplanation{}}
	for i, a := range atts {
		ce, err := s.explainOne(ctx, a, v.Attributions[i].Credits)
		if err != nil {
			return Explanation{}, err
		}
		out.Campaigns = append(out.Campaigns, ce)
	}
	return out, nil
}

func (s *Service) explainOne(ctx context.Context, a attributionRow, live []CreditView) (CampaignExplanation, error) {
	res, err := a.result()
	if err != nil {
		return CampaignExplanation{}, err
	}
	ce := CampaignExplanation{Result: res, Version: a.Version, LiveCredits: live}
	if ce.Disputes, err = s.Store.disputes(ctx, s.DB, a.ConversionID, a.CampaignID); err != nil {
		return ce, err
	}
	ce.Adjustments, err = s.Store.adjustments(ctx, s.DB, a.ConversionID, a.CampaignID)
	return ce, err
}

// visible checks that p may read conversion id: hq_admin and auditors
// everything, service clients (upstream systems) everything they report,
// a manager conversions credited in their subtree, staff their own;
// anything else is ErrNotFound.
func (s *Service) visible(ctx context.Context, ext sqlx.ExtContext, p auth.Principal, id int64) error {
	if p.ReadsAll() || p.IsClient() {
		return nil
	}
	q, args := `SELECT COUNT(*) FROM credits WHERE conversion_id = ? AND staff_id = ?`, []any{id, p.StaffID}
	if prefix, ok := p.ScopePath(); ok && prefix != "" {
		lo, hi := auth.PathRange(prefix)
		q, args = `SELECT COUNT(*) FROM credits WHERE conversion_id = ? AND (staff_id = ? OR (unit_path >= ? AND unit_path < ?))`, []any{id, p.StaffID, lo, hi}
	}
	var n int64
	if err := sqlx.GetContext(ctx, ext, &n, q, args...); err != nil {
		return fmt.Errorf("attribution: scope: %w", err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}
