package rewards

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"rmref/internal/db"
)

// PerkProgramme is a programme with its versions (newest last).
type PerkProgramme struct {
	ID         int64                  `json:"id,string"`
	Name       string                 `json:"name"`
	Product    string                 `json:"product"`
	CampaignID *int64                 `json:"campaign_id,string,omitempty"`
	Status     string                 `json:"status"` // proposed until a version is approved, then active
	CreatedBy  string                 `json:"created_by"`
	CreatedAt  time.Time              `json:"created_at"`
	UpdatedAt  time.Time              `json:"updated_at"`
	Versions   []PerkProgrammeVersion `json:"versions"`
}

// PerkProgrammeVersion is one proposed or approved configuration.
type PerkProgrammeVersion struct {
	Version       int        `json:"version"`
	Status        string     `json:"status"` // proposed or approved
	Note          string     `json:"note,omitempty"`
	EffectiveFrom time.Time  `json:"effective_from"`
	EffectiveAt   *time.Time `json:"effective_at"` // max(effective_from, approved_at)
	ProposedBy    string     `json:"proposed_by"`
	ProposedAt    time.Time  `json:"proposed_at"`
	ApprovedBy    *string    `json:"approved_by"`
	ApprovedAt    *time.Time `json:"approved_at"`
	Config        PerkConfig `json:"config"`
}

// Version statuses.
const (
	VersionProposed = "proposed"
	VersionApproved = "approved"
)

// Rules returns the approved versions as evaluator input.
func (p PerkProgramme) Rules() PerkRules {
	r := PerkRules{ProgrammeID: p.ID}
	for _, v := range p.Versions {
		if v.Status == VersionApproved && v.EffectiveAt != nil {
			r.Versions = append(r.Versions, PerkVersion{Version: v.Version, EffectiveAt: *v.EffectiveAt, Config: v.Config})
		}
	}
	sortVersions(r.Versions)
	return r
}

func sortVersions(vs []PerkVersion) {
	for i := 1; i < len(vs); i++ {
		for j := i; j > 0 && vs[j].EffectiveAt.Before(vs[j-1].EffectiveAt); j-- {
			vs[j], vs[j-1] = vs[j-1], vs[j]
		}
	}
}

type perkProgrammeRow struct {
	ID         int64  `db:"id"`
	Name       string `db:"name"`
	Product    string `db:"product"`
	CampaignID *int64 `db:"campaign_id"`
	CreatedBy  string `db:"created_by"`
	CreatedAt  int64  `db:"created_at"`
	UpdatedAt  int64  `db:"updated_at"`
}

type perkVersionRow struct {
	ProgrammeID   int64          `db:"programme_id"`
	Version       int            `db:"version"`
	Config        string         `db:"config"`
	Note          string         `db:"note"`
	Status        string         `db:"status"`
	EffectiveFrom int64          `db:"effective_from"`
	EffectiveAt   db.NullInstant `db:"effective_at"`
	ProposedBy    string         `db:"proposed_by"`
	ProposedAt    int64          `db:"proposed_at"`
	ApprovedBy    *string        `db:"approved_by"`
	ApprovedAt    db.NullInstant `db:"approved_at"`
}

func (r perkVersionRow) toVersion() (PerkProgrammeVersion, error) {
	v := PerkProgrammeVersion{Version: r.Version, Status: r.Status, Note: r.Note, EffectiveFrom: db.FromMicros(r.EffectiveFrom),
		ProposedBy: r.ProposedBy, ProposedAt: db.FromMicros(r.ProposedAt), ApprovedBy: r.ApprovedBy}
	if !r.EffectiveAt.IsZero() {
		t := r.EffectiveAt.Time
		v.EffectiveAt = &t
	}
	if !r.ApprovedAt.IsZero() {
		t := r.ApprovedAt.Time
		v.ApprovedAt = &t
	}
	if err := json.Unmarshal([]byte(r.Config), &v.Config); err != nil {
		return v, fmt.Errorf("rewards: decode programme %d v%d: %w", r.ProgrammeID, r.Version, err)
	}
	return v, nil
}

const qPerkInsertProgramme = `INSERT INTO perk_programmes (name, product, campaign_id, created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`

func insertPerkProgramme(ctx context.Context, ext sqlx.ExtContext, p PerkProgramme) (int64, error) {
	res, err := ext.ExecContext(ctx, qPerkInsertProgramme, p.Name, p.Product, p.CampaignID, p.CreatedBy, db.Micros(p.CreatedAt), db.Micros(p.UpdatedAt))
	if err != nil {
		return 0, fmt.Errorf("rewards: insert programme: %w", err)
	}
	return res.LastInsertId()
}

const qPerkInsertVersion = `INSERT INTO perk_programme_versions
(programme_id, version, config, note, status, effective_from, proposed_by, proposed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`

func insertPerkVersion(ctx context.Context, ext sqlx.ExtContext, programmeID int64, v PerkProgrammeVersion) error {
	cfg, err := json.Marshal(v.Config)
	if err != nil {
		return fmt.Errorf("rewards: encode config: %w", err)
	}
	_, err = ext.ExecContext(ctx, qPerkInsertVersion, programmeID, v.Version, string(cfg), v.Note, v.Status,
		db.Micros(v.EffectiveFrom), v.ProposedBy, db.Micros(v.ProposedAt))
	if err != nil {
		return fmt.Errorf("rewards: insert version: %w", err)
	}
	return nil
}

const qPerkApproveVersion = `UPDATE perk_programme_versions SET status = ?, approved_by = ?, approved_at = ?, effective_at = ?
WHERE programme_id = ? AND version = ? AND status = ?`

func approvePerkVersion(ctx context.Context, ext sqlx.ExtContext, programmeID int64, version int, by string, at, effective time.Time) (bool, error) {
	res, err := ext.ExecContext(ctx, qPerkApproveVersion, VersionApproved, by, db.Micros(at), db.Micros(effective), programmeID, version, VersionProposed)
	if err != nil {
		return false, fmt.Errorf("rewards: approve version: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

const qPerkTouchProgramme = `UPDATE perk_programmes SET updated_at = ? WHERE id = ?`

const qPerkProgramme = `SELECT id, name, product, campaign_id, created_by, created_at, updated_at FROM perk_programmes WHERE id = ?`

const qPerkVersions = `SELECT programme_id, version, config, note, status, effective_from, effective_at, proposed_by, proposed_at, approved_by, approved_at
FROM perk_programme_versions WHERE programme_id = ? ORDER BY version`

// loadPerkProgramme returns a programme with its versions.
func loadPerkProgramme(ctx context.Context, ext sqlx.ExtContext, id int64) (PerkProgramme, error) {
	var r perkProgrammeRow
	if err := sqlx.GetContext(ctx, ext, &r, qPerkProgramme, id); err != nil {
		if errors.Is(err, db.ErrNoRows) {
			return PerkProgramme{}, ErrPerkNotFound
		}
		return PerkProgramme{}, fmt.Errorf("rewards: load programme %d: %w", id, err)
	}
	p := PerkProgramme{ID: r.ID, Name: r.Name, Product: r.Product, CampaignID: r.CampaignID, CreatedBy: r.CreatedBy,
		CreatedAt: db.FromMicros(r.CreatedAt), UpdatedAt: db.FromMicros(r.UpdatedAt), Status: VersionProposed}
	var vrs []perkVersionRow
	if err := sqlx.SelectContext(ctx, ext, &vrs, qPerkVersions, id); err != nil {
		return PerkProgramme{}, fmt.Errorf("rewards: load versions %d: %w", id, err)
	}
	for _, vr := range vrs {
		v, err := vr.toVersion()
		if err != nil {
			return PerkProgramme{}, err
		}
		if v.Status == VersionApproved {
			p.Status = "active"
		}
		p.Versions = append(p.Versions, v)
	}
	return p, nil
}

const qPerkProgrammeIDs = `SELECT id FROM perk_programmes WHERE id > ? ORDER BY id LIMIT ?`

func listPerkProgrammeIDs(ctx context.Context, ext sqlx.ExtContext, afterID int64, limit int) ([]int64, error) {
	var ids []int64
	if err := sqlx.SelectContext(ctx, ext, &ids, qPerkProgrammeIDs, afterID, limit); err != nil {
		return nil, fmt.Errorf("rewards: list programmes: %w", err)
	}
	return ids, nil
}

const qPerkProgrammesByProduct = `SELECT DISTINCT p.id FROM perk_programmes p JOIN perk_programme_versions v ON v.programme_id = p.id
WHERE p.product = ? AND v.status = 'approved' ORDER BY p.id`

func perkProgrammesByProduct(ctx context.Context, ext sqlx.ExtContext, product string) ([]int64, error) {
	var ids []int64
	if err := sqlx.SelectContext(ctx, ext, &ids, qPerkProgrammesByProduct, product); err != nil {
		return nil, fmt.Errorf("rewards: programmes of %s: %w", product, err)
	}
	return ids, nil
}

// lockPerkCardholder takes the cardholder row's lock, so that one
// cardholder's events and claims are decided one at a time (exchange caps,
// claim checks). Call it before any other read of the transaction, so that
// on MySQL the transaction's snapshot starts after the lock is held. It
// reports whether the cardholder exists.
func lockPerkCardholder(ctx context.Context, ext sqlx.ExtContext, customerID string) (bool, error) {
	res, err := ext.ExecContext(ctx, `UPDATE perk_cardholders SET seq = seq WHERE customer_id = ?`, customerID)
	if err != nil {
		return false, fmt.Errorf("rewards: lock cardholder %s: %w", customerID, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// ensurePerkCardholder records a cardholder on their first event.
func ensurePerkCardholder(ctx context.Context, d *db.DB, ext sqlx.ExtContext, customerID string, now time.Time) error {
	ins := `INSERT INTO perk_cardholders (customer_id, created_at, seq) VALUES (?, ?, 0) ` + d.Dialect.IgnoreDup([]string{"customer_id"}, "customer_id")
	if _, err := ext.ExecContext(ctx, ins, customerID, db.Micros(now)); err != nil {
		return fmt.Errorf("rewards: cardholder %s: %w", customerID, err)
	}
	return nil
}

const qPerkCardholderExists = `SELECT COUNT(*) FROM perk_cardholders WHERE customer_id = ?`

func perkCardholderExists(ctx context.Context, ext sqlx.ExtContext, customerID string) (bool, error) {
	var n int
	if err := sqlx.GetContext(ctx, ext, &n, qPerkCardholderExists, customerID); err != nil {
		return false, fmt.Errorf("rewards: cardholder %s: %w", customerID, err)
	}
	return n > 0, nil
}

type perkEventRow struct {
	ID          int64  `db:"id"`
	EventID     string `db:"event_id"`
	Payload     string `db:"payload"`
	PayloadHash string `db:"payload_hash"`
	Outcome     string `db:"outcome"`
}

const qPerkEventByID = `SELECT id, event_id, payload, payload_hash, outcome FROM perk_card_events WHERE event_id = ?`

// findPerkEvent returns the stored event with the given id, if any.
func findPerkEvent(ctx context.Context, ext sqlx.ExtContext, eventID string) (perkEventRow, bool, error) {
	var r perkEventRow
	err := sqlx.GetContext(ctx, ext, &r, qPerkEventByID, eventID)
	if errors.Is(err, db.ErrNoRows) {
		return r, false, nil
	}
	if err != nil {
		return r, false, fmt.Errorf("rewards: find event %s: %w", eventID, err)
	}
	return r, true, nil
}

const qPerkInsertEvent = `INSERT INTO perk_card_events
(event_id, kind, customer_id, card_id, product, occurred_at, payload, payload_hash, outcome, received_by, received_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, '', ?, ?)`

func insertPerkEvent(ctx context.Context, ext sqlx.ExtContext, e CardEvent, by string, now time.Time) (int64, error) {
	payload, err := json.Marshal(e)
	if err != nil {
		return 0, fmt.Errorf("rewards: encode event: %w", err)
	}
	res, err := ext.ExecContext(ctx, qPerkInsertEvent, e.EventID, e.Kind, e.CustomerID, e.CardID, e.Product,
		db.Micros(e.OccurredAt), string(payload), e.Hash(), by, db.Micros(now))
	if err != nil {
		return 0, fmt.Errorf("rewards: insert event %s: %w", e.EventID, err)
	}
	return res.LastInsertId()
}

func setPerkEventOutcome(ctx context.Context, ext sqlx.ExtContext, id int64, outcome string) error {
	if _, err := ext.ExecContext(ctx, `UPDATE perk_card_events SET outcome = ? WHERE id = ?`, outcome, id); err != nil {
		return fmt.Errorf("rewards: event outcome: %w", err)
	}
	return nil
}

const qPerkEventsOf = `SELECT id, event_id, payload, payload_hash, outcome FROM perk_card_events WHERE customer_id = ? ORDER BY occurred_at, id`

// loadPerkEvents returns every stored event of a customer.
func loadPerkEvents(ctx context.Context, ext sqlx.ExtContext, customerID string) ([]CardEvent, error) {
	var rows []perkEventRow
	if err := sqlx.SelectContext(ctx, ext, &rows, qPerkEventsOf, customerID); err != nil {
		return nil, fmt.Errorf("rewards: events of %s: %w", customerID, err)
	}
	out := make([]CardEvent, len(rows))
	for i, r := range rows {
		if err := json.Unmarshal([]byte(r.Payload), &out[i]); err != nil {
			return nil, fmt.Errorf("rewards: decode event %s: %w", r.EventID, err)
		}
		out[i].Seq = r.ID
	}
	return out, nil
}

const qPerkCardProduct = `SELECT product FROM perk_card_events WHERE card_id = ? AND kind = 'card_approved' ORDER BY occurred_at, id LIMIT 1`

// perkCardProduct returns the product of an approved card, "" if unknown.
func perkCardProduct(ctx context.Context, ext sqlx.ExtContext, cardID string) (string, error) {
	var p string
	err := sqlx.GetContext(ctx, ext, &p, qPerkCardProduct, cardID)
	if errors.Is(err, db.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("rewards: card %s: %w", cardID, err)
	}
	return p, nil
}

const qPerkCustomerProducts = `SELECT DISTINCT product FROM perk_card_events WHERE customer_id = ? AND kind = 'card_approved'`

func perkCustomerProducts(ctx context.Context, ext sqlx.ExtContext, customerID string) ([]string, error) {
	var ps []string
	if err := sqlx.SelectContext(ctx, ext, &ps, qPerkCustomerProducts, customerID); err != nil {
		return nil, fmt.Errorf("rewards: products of %s: %w", customerID, err)
	}
	return ps, nil
}

const qPerkCardholdersOf = `SELECT DISTINCT customer_id FROM perk_card_events WHERE product = ? AND kind = 'card_approved' ORDER BY customer_id`

func perkCardholdersOf(ctx context.Context, ext sqlx.ExtContext, product string) ([]string, error) {
	var cs []string
	if err := sqlx.SelectContext(ctx, ext, &cs, qPerkCardholdersOf, product); err != nil {
		return nil, fmt.Errorf("rewards: cardholders of %s: %w", product, err)
	}
	return cs, nil
}

type perkClaimRow struct {
	GrantKey  string `db:"grant_key"`
	ClaimedAt int64  `db:"claimed_at"`
	Terms     string `db:"terms"`
}

const qPerkClaims = `SELECT grant_key, claimed_at, terms FROM perk_claims WHERE programme_id = ? AND customer_id = ? ORDER BY claimed_at, id`

// loadPerkClaims returns a customer's claims in a programme.
func loadPerkClaims(ctx context.Context, ext sqlx.ExtContext, programmeID int64, customerID string) ([]PerkClaim, error) {
	var rows []perkClaimRow
	if err := sqlx.SelectContext(ctx, ext, &rows, qPerkClaims, programmeID, customerID); err != nil {
		return nil, fmt.Errorf("rewards: claims of %s: %w", customerID, err)
	}
	out := make([]PerkClaim, len(rows))
	for i, r := range rows {
		out[i] = PerkClaim{Key: r.GrantKey, ClaimedAt: db.FromMicros(r.ClaimedAt)}
		if err := json.Unmarshal([]byte(r.Terms), &out[i].Terms); err != nil {
			return nil, fmt.Errorf("rewards: decode claim %s: %w", r.GrantKey, err)
		}
	}
	return out, nil
}

const qPerkInsertClaim = `INSERT INTO perk_claims (programme_id, customer_id, grant_key, kind, claimed_at, terms, claimed_by, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)`

func insertPerkClaim(ctx context.Context, ext sqlx.ExtContext, programmeID int64, customerID string, c PerkClaim, by string, now time.Time) error {
	terms, err := json.Marshal(c.Terms)
	if err != nil {
		return fmt.Errorf("rewards: encode terms: %w", err)
	}
	_, err = ext.ExecContext(ctx, qPerkInsertClaim, programmeID, customerID, c.Key, c.Terms.Kind, db.Micros(c.ClaimedAt), string(terms), by, db.Micros(now))
	if err != nil {
		return fmt.Errorf("rewards: insert claim %s: %w", c.Key, err)
	}
	return nil
}
