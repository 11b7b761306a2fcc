package attribution

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/jmoiron/sqlx"

	"rmref/internal/apperr"
	"rmref/internal/auth"
	"rmref/internal/db"
	"rmref/internal/pii"
)

// Journey is one customer's timeline across channels.
type Journey struct {
	Customer   string         `json:"customer"` // masked customer number
	Identities []JourneyIdent `json:"identities"`
	Events     []JourneyEvent `json:"events"`
}

// JourneyIdent is one linked identifier, masked.
type JourneyIdent struct {
	Kind  string `json:"kind"`
	Value string `json:"value"`
}

// JourneyEvent is a click, contact, conversion, credit or reversal, a
// lead, a card event or a perk claim.
type JourneyEvent struct {
	At           time.Time `json:"at"`
	Kind         string    `json:"kind"` // click, contact, conversion, credit, reversal, lead, card_event, perk_claim
	ID           int64     `json:"id,string"`
	StaffID      int64     `json:"staff_id,string,omitempty"`
	StaffName    string    `json:"staff_name,omitempty"`
	Channel      string    `json:"channel,omitempty"`
	CampaignID   int64     `json:"campaign_id,string,omitempty"`
	Type         string    `json:"type,omitempty"`
	AmountFen    int64     `json:"amount_fen,omitempty"`
	Weight       float64   `json:"weight,omitempty"`
	Counted      *bool     `json:"counted,omitempty"`
	ConversionID int64     `json:"conversion_id,string,omitempty"`
	Status       string    `json:"status,omitempty"` // lead: its status; card event: the perk engine's outcome; claim: "claimed"
	Detail       string    `json:"detail,omitempty"` // lead: outcome; card event: card product; claim: the grant
}

// errNoCustomer is what anyone outside the customer's circle gets.
var errNoCustomer = apperr.NotFoundf("no such customer")

// Journey returns the timeline of the customer with customer number no,
// for the RMs who served them (credited or contacted them), their
// managers, hq_admin and auditors; anyone else gets NotFound.
func (b *Boards) Journey(ctx context.Context, p auth.Principal, no string) (Journey, error) {
	var cluster int64
	err := sqlx.GetContext(ctx, b.DB, &cluster, `SELECT cluster_id FROM customer_identifiers WHERE kind = 'customer_id' AND value = ?`, no)
	if errors.Is(err, db.ErrNoRows) {
		return Journey{}, errNoCustomer
	}
	if err != nil {
		return Journey{}, fmt.Errorf("attribution: journey customer: %w", err)
	}
	if ok, err := b.Store.serves(ctx, b.DB, p, cluster); err != nil || !ok {
		return Journey{}, errors.Join(err, errNoCustomer)
	}
	j := Journey{Customer: pii.MaskID(no)}
	if j.Identities, err = b.Store.identities(ctx, b.DB, cluster); err != nil {
		return Journey{}, err
	}
	if j.Events, err = b.Store.journeyEvents(ctx, b.DB, cluster); err != nil {
		return Journey{}, err
	}
	return j, nil
}

// serves reports whether p may see the cluster's journey: p reads all, or
// p (or, for a manager, anyone in their subtree) was credited for one of
// its conversions or contacted it.
func (s BoardStore) serves(ctx context.Context, ext sqlx.ExtContext, p auth.Principal, cluster int64) (bool, error) {
	if p.ReadsAll() {
		return true, nil
	}
	credit, contact, lead, args := `c.staff_id = ?`, `t.staff_id = ?`, `l.assignee_id = ?`, []any{p.StaffID}
	if prefix, ok := p.ScopePath(); ok && prefix != "" {
		lo, hi := auth.PathRange(prefix)
		credit = `c.unit_path >= ? AND c.unit_path < ?`
		inSubtree := ` IN (SELECT s.id FROM staff s JOIN org_units u ON u.id = s.unit_id WHERE u.path >= ? AND u.path < ?)`
		contact, lead = `t.staff_id`+inSubtree, `l.assignee_id`+inSubtree
		args = []any{lo, hi}
	}
	// Served: credited for a conversion, contacted, or assigned a lead.
	q := `SELECT COUNT(*) FROM (
		SELECT c.id FROM credits c JOIN conversions v ON v.id = c.conversion_id JOIN customer_identifiers i ON i.id = v.identifier_id
		WHERE i.cluster_id = ? AND ` + credit + `
		UNION ALL
		SELECT t.id FROM touches t JOIN customer_identifiers i ON i.id = t.identifier_id WHERE i.cluster_id = ? AND ` + contact + `
		UNION ALL
		SELECT l.id FROM leads l JOIN customer_identifiers i ON i.kind = 'customer_id' AND i.value = l.customer_id
		WHERE i.cluster_id = ? AND ` + lead + `) x`
	var n int
	var all []any
	for range 3 {
		all = append(append(all, cluster), args...)
	}
	if err := sqlx.GetContext(ctx, ext, &n, q, all...); err != nil {
		return false, fmt.Errorf("attribution: journey scope: %w", err)
	}
	return n > 0, nil
}

// identities lists the cluster's identifiers, masked (phones are stored
// only as hashes and are never shown).
func (s BoardStore) identities(ctx context.Context, ext sqlx.ExtContext, cluster int64) ([]JourneyIdent, error) {
	var rows []JourneyIdent
	if err := sqlx.SelectContext(ctx, ext, &rows, `SELECT kind, value FROM customer_identifiers WHERE cluster_id = ? ORDER BY id`, cluster); err != nil {
		return nil, fmt.Errorf("attribution: journey identities: %w", err)
	}
	for i := range rows {
		if rows[i].Kind == "phone" {
			rows[i].Value = "***"
		} else {
			rows[i].Value = pii.MaskID(rows[i].Value)
		}
	}
	return rows, nil
}

type journeyRow struct {
	Kind       string `db:"kind"`
	ID         int64  `db:"id"`
	At         int64  `db:"at"`
	StaffID    int64  `db:"staff_id"`
	StaffName  string `db:"staff_name"`
	Channel    string `db:"channel"`
	CampaignID int64  `db:"campaign_id"`
	Type       string `db:"type"`
	Amount     int64  `db:"amount"`
	Weight     int64  `db:"weight"`
	Counted    int64  `db:"counted"`
	ConvID     int64  `db:"conv_id"`
}

const journeyQuery = `
SELECT 'click' AS kind, r.id, r.at, r.staff_id, COALESCE(s.name, '') AS staff_name, r.channel, r.campaign_id, '' AS type, 0 AS amount, 0 AS weight, r.counted, 0 AS conv_id
FROM referral_clicks r JOIN customer_identifiers i ON i.kind = 'visitor_id' AND i.value = r.visitor_id LEFT JOIN staff s ON s.id = r.staff_id
WHERE i.cluster_id = ? AND r.bot = 0
UNION ALL
SELECT 'contact', t.id, t.occurred_at, t.staff_id, COALESCE(s.name, ''), t.channel, t.campaign_id, t.kind, 0, 0, 1, 0
FROM touches t JOIN customer_identifiers i ON i.id = t.identifier_id LEFT JOIN staff s ON s.id = t.staff_id
WHERE i.cluster_id = ?
UNION ALL
SELECT 'conversion', v.id, v.occurred_at, 0, '', v.channel, 0, v.type, v.amount_fen, 0, 1, v.id
FROM conversions v JOIN customer_identifiers i ON i.id = v.identifier_id
WHERE i.cluster_id = ?
UNION ALL
SELECT c.kind, c.id, c.created_at, c.staff_id, COALESCE(s.name, ''), '', c.campaign_id, '', c.credited_fen, c.weight_micro, 1, c.conversion_id
FROM credits c JOIN conversions v ON v.id = c.conversion_id JOIN customer_identifiers i ON i.id = v.identifier_id LEFT JOIN staff s ON s.id = c.staff_id
WHERE i.cluster_id = ?`

// journeyLater is the journey's leads (with the assigned staff member),
// card events and perk claims, found by the cluster's customer numbers.
const journeyLater = `
SELECT 'lead' AS kind, l.id, l.triggered_at AS at, COALESCE(l.assignee_id, 0) AS staff_id, COALESCE(s.name, '') AS staff_name, l.channel,
	0 AS campaign_id, l.product AS type, l.status, l.outcome
FROM leads l JOIN customer_identifiers i ON i.kind = 'customer_id' AND i.value = l.customer_id LEFT JOIN staff s ON s.id = l.assignee_id
WHERE i.cluster_id = ?
UNION ALL
SELECT 'card_event', e.id, e.occurred_at, 0, '', '', 0, e.kind, e.outcome, e.product
FROM perk_card_events e JOIN customer_identifiers i ON i.kind = 'customer_id' AND i.value = e.customer_id
WHERE i.cluster_id = ?
UNION ALL
SELECT 'perk_claim', c.id, c.claimed_at, 0, '', '', 0, c.kind, c.grant_key, ''
FROM perk_claims c JOIN customer_identifiers i ON i.kind = 'customer_id' AND i.value = c.customer_id
WHERE i.cluster_id = ?`

type journeyLaterRow struct {
	Kind       string `db:"kind"`
	ID         int64  `db:"id"`
	At         int64  `db:"at"`
	StaffID    int64  `db:"staff_id"`
	StaffName  string `db:"staff_name"`
	Channel    string `db:"channel"`
	CampaignID int64  `db:"campaign_id"`
	Type       string `db:"type"`
	Status     string `db:"status"`
	Extra      string `db:"outcome"`
}

// journeyEvents returns the cluster's events in time order.
func (s BoardStore) journeyEvents(ctx context.Context, ext sqlx.ExtContext, cluster int64) ([]JourneyEvent, error) {
	var rows []journeyRow
	if err := sqlx.SelectContext(ctx, ext, &rows, journeyQuery, cluster, cluster, cluster, cluster); err != nil {
		return nil, fmt.Errorf("attribution: journey: %w", err)
	}
	var later []journeyLaterRow
	if err := sqlx.SelectContext(ctx, ext, &later, journeyLater, cluster, cluster, cluster); err != nil {
		return nil, fmt.Errorf("attribution: journey leads and perks: %w", err)
	}
	out := make([]JourneyEvent, len(rows))
	for i, r := range rows {
		e := JourneyEvent{At: db.FromMicros(r.At).UTC(), Kind: r.Kind, ID: r.ID, StaffID: r.StaffID, StaffName: r.StaffName, Channel: r.Channel,
			CampaignID: r.CampaignID, Type: r.Type, AmountFen: r.Amount, Weight: float64(r.Weight) / WeightScale, ConversionID: r.ConvID}
		if r.Kind == "credit" || r.Kind == "attribution" {
			e.Kind = "credit"
		}
		if r.Kind == "click" {
			counted := r.Counted == 1
			e.Counted = &counted
		}
		out[i] = e
	}
	for _, r := range later {
		e := JourneyEvent{At: db.FromMicros(r.At).UTC(), Kind: r.Kind, ID: r.ID, StaffID: r.StaffID, StaffName: r.StaffName,
			Channel: r.Channel, Type: r.Type, Status: r.Status, Detail: r.Extra}
		if r.Kind == "perk_claim" {
			e.Status, e.Detail = "claimed", r.Status
		}
		out = append(out, e)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].At.Equal(out[j].At) {
			return out[i].At.Before(out[j].At)
		}
		return out[i].Kind < out[j].Kind
	})
	return out, nil
}
