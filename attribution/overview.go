package attribution

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"rmref/internal/auth"
	"rmref/internal/db"
	"rmref/internal/pii"
)

// MyConversion is one of the caller's credits with its conversion; the
// customer is masked.
type MyConversion struct {
	CreditID     int64     `json:"credit_id,string"`
	ConversionID int64     `json:"conversion_id,string"`
	CampaignID   int64     `json:"campaign_id,string"`
	Kind         string    `json:"kind"` // attribution or reversal
	Type         string    `json:"type"`
	Customer     string    `json:"customer"`
	OccurredAt   time.Time `json:"occurred_at"`
	AmountFen    int64     `json:"amount_fen"`
	Weight       float64   `json:"weight"`
	CreditedFen  int64     `json:"credited_fen"`
}

type myConvRow struct {
	ID         int64  `db:"id"`
	ConvID     int64  `db:"conversion_id"`
	CampaignID int64  `db:"campaign_id"`
	Kind       string `db:"kind"`
	Type       string `db:"type"`
	CustomerNo string `db:"customer_no"`
	At         int64  `db:"occurred_at"`
	Amount     int64  `db:"amount_fen"`
	Weight     int64  `db:"weight_micro"`
	Fen        int64  `db:"credited_fen"`
}

// MyConversions returns the caller's credits newest first, before the
// credit id before (0: from the newest), up to limit, and the next cursor
// (0 on the last page).
func (b *Boards) MyConversions(ctx context.Context, p auth.Principal, before int64, limit int) ([]MyConversion, int64, error) {
	q := `SELECT c.id, c.conversion_id, c.campaign_id, c.kind, v.type, v.customer_no, v.occurred_at, v.amount_fen, c.weight_micro, c.credited_fen
		FROM credits c JOIN conversions v ON v.id = c.conversion_id WHERE c.staff_id = ?`
	args := []any{p.StaffID}
	if before > 0 {
		q, args = q+` AND c.id < ?`, append(args, before)
	}
	var rows []myConvRow
	if err := sqlx.SelectContext(ctx, b.DB, &rows, q+` ORDER BY c.id DESC LIMIT ?`, append(args, limit+1)...); err != nil {
		return nil, 0, fmt.Errorf("attribution: my conversions: %w", err)
	}
	var next int64
	if len(rows) > limit {
		rows = rows[:limit]
		next = rows[limit-1].ID
	}
	out := make([]MyConversion, len(rows))
	for i, r := range rows {
		out[i] = MyConversion{CreditID: r.ID, ConversionID: r.ConvID, CampaignID: r.CampaignID, Kind: r.Kind, Type: r.Type,
			Customer: pii.MaskID(r.CustomerNo), OccurredAt: db.FromMicros(r.At).UTC(), AmountFen: r.Amount,
			Weight: float64(r.Weight) / WeightScale, CreditedFen: r.Fen}
	}
	return out, next, nil
}

// Headline is one campaign's figures in the caller's scope for the HQ and
// manager overview, with the conversions of the last seven days against
// the seven before.
type Headline struct {
	CampaignID     int64              `json:"campaign_id,string"`
	Counts         map[string]float64 `json:"counts"`
	AmountFen      int64              `json:"amount_fen"`
	Last7Days      float64            `json:"conversions_last_7_days"`
	Previous7Days  float64            `json:"conversions_previous_7_days"`
	ConversionsDay []DayFigure        `json:"conversions_by_day"`
}

// DayFigure is a day's credited conversions.
type DayFigure struct {
	Day         string  `json:"date"`
	Conversions float64 `json:"conversions"`
}

// Headline computes a campaign's headline figures in the caller's scope.
func (b *Boards) Headline(ctx context.Context, p auth.Principal, campaignID int64) (Headline, error) {
	f, err := b.Funnel(ctx, p, campaignID, FunnelQuery{})
	if err != nil {
		return Headline{}, err
	}
	c, err := b.Campaigns.Campaign(ctx, b.DB, campaignID)
	if err != nil {
		return Headline{}, err
	}
	loc := c.Location
	if loc == nil {
		loc = time.UTC
	}
	today := b.Clock.Now().In(loc)
	cut7, cut14 := today.AddDate(0, 0, -6).Format(time.DateOnly), today.AddDate(0, 0, -13).Format(time.DateOnly)
	h := Headline{CampaignID: campaignID, Counts: f.Total.Counts, AmountFen: f.AmountFen, ConversionsDay: []DayFigure{}}
	for _, per := range f.Periods {
		var n float64
		for _, step := range f.Steps[3:] {
			n += per.Counts[step]
		}
		h.ConversionsDay = append(h.ConversionsDay, DayFigure{Day: per.Period, Conversions: n})
		switch {
		case per.Period >= cut7:
			h.Last7Days += n
		case per.Period >= cut14:
			h.Previous7Days += n
		}
	}
	return h, nil
}
