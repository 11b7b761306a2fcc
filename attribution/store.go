package attribution

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"rmref/internal/db"
)

// Store is the SQL of conversions, touches, attributions, credits and
// rollups.
type Store struct {
	Dialect db.Dialect
}

// lockSuffix makes a read a locking read on MySQL, so that it sees rows
// committed by the transactions it waited for.
func (s Store) lockSuffix() string {
	if s.Dialect.Name() == "mysql" {
		return " FOR UPDATE"
	}
	return ""
}

type conversionRow struct {
	ID             int64  `db:"id"`
	Source         string `db:"source"`
	ExternalID     string `db:"external_id"`
	PayloadHash    string `db:"payload_hash"`
	Type           string `db:"type"`
	IdentifierID   int64  `db:"identifier_id"`
	CustomerNo     string `db:"customer_no"`
	AmountFen      int64  `db:"amount_fen"`
	ReversedFen    int64  `db:"reversed_fen"`
	ProductCode    string `db:"product_code"`
	Channel        string `db:"channel"`
	SubChannel     string `db:"sub_channel"`
	InvitationCode string `db:"invitation_code"`
	ReferralToken  string `db:"referral_token"`
	OccurredAt     int64  `db:"occurred_at"`
	CreatedAt      int64  `db:"created_at"`
}

const conversionCols = `id, source, external_id, payload_hash, type, identifier_id, customer_no, amount_fen, reversed_fen,
	product_code, channel, sub_channel, invitation_code, referral_token, occurred_at, created_at`

// conversionByKey returns the conversion with (source, external id), or
// db.ErrNoRows. The read does not lock: a locking read of a missing key
// takes a gap lock on MySQL that concurrent inserts deadlock on. A
// concurrent insert of the same key is caught by the unique key instead
// (errRaced), and the retried transaction then finds the row.
func (s Store) conversionByKey(ctx context.Context, ext sqlx.ExtContext, source, externalID string) (conversionRow, error) {
	var r conversionRow
	err := sqlx.GetContext(ctx, ext, &r, `SELECT `+conversionCols+` FROM conversions WHERE source = ? AND external_id = ?`, source, externalID)
	return r, err
}

// conversionKeys returns the payload hashes of the stored conversions
// among the keys (source, external id) of ps, in one read.
func (s Store) conversionKeys(ctx context.Context, ext sqlx.ExtContext, ps []pending) (map[[2]string]string, error) {
	out := make(map[[2]string]string, len(ps))
	if len(ps) == 0 {
		return out, nil
	}
	conds := make([]string, len(ps))
	args := make([]any, 0, 2*len(ps))
	for i, p := range ps {
		conds[i] = "(source = ? AND external_id = ?)"
		args = append(args, p.row.Source, p.row.ExternalID)
	}
	var rows []struct {
		Source      string `db:"source"`
		ExternalID  string `db:"external_id"`
		PayloadHash string `db:"payload_hash"`
	}
	if err := sqlx.SelectContext(ctx, ext, &rows, `SELECT source, external_id, payload_hash FROM conversions WHERE `+strings.Join(conds, " OR "), args...); err != nil {
		return nil, fmt.Errorf("attribution: conversion keys: %w", err)
	}
	for _, r := range rows {
		out[[2]string{r.Source, r.ExternalID}] = r.PayloadHash
	}
	return out, nil
}

// conversionByID returns one conversion, or db.ErrNoRows.
func (s Store) conversionByID(ctx context.Context, ext sqlx.ExtContext, id int64, lock bool) (conversionRow, error) {
	q := `SELECT ` + conversionCols + ` FROM conversions WHERE id = ?`
	if lock {
		q += s.lockSuffix()
	}
	var r conversionRow
	err := sqlx.GetContext(ctx, ext, &r, q, id)
	return r, err
}

const insertConversion = `INSERT INTO conversions (source, external_id, payload_hash, type, identifier_id, customer_no, amount_fen,
	product_code, channel, sub_channel, invitation_code, referral_token, occurred_at, created_at)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// insertConversion stores a new conversion; a duplicate key is errRaced.
func (s Store) insertConversion(ctx context.Context, ext sqlx.ExtContext, r conversionRow) (int64, error) {
	res, err := ext.ExecContext(ctx, insertConversion, r.Source, r.ExternalID, r.PayloadHash, r.Type, r.IdentifierID, r.CustomerNo,
		r.AmountFen, r.ProductCode, r.Channel, r.SubChannel, r.InvitationCode, r.ReferralToken, r.OccurredAt, r.CreatedAt)
	if s.Dialect.IsUniqueViolation(err) {
		return 0, errRaced
	}
	if err != nil {
		return 0, fmt.Errorf("attribution: insert conversion: %w", err)
	}
	return res.LastInsertId()
}

// clusterConversions returns the conversions of a customer cluster at or
// after from, in time order (then id).
func (s Store) clusterConversions(ctx context.Context, ext sqlx.ExtContext, cluster int64, from time.Time) ([]conversionRow, error) {
	var rows []conversionRow
	q := `SELECT c.` + strings.ReplaceAll(conversionCols, ", ", ", c.") + ` FROM conversions c
		JOIN customer_identifiers i ON i.id = c.identifier_id
		WHERE i.cluster_id = ? AND c.occurred_at >= ? ORDER BY c.occurred_at, c.id`
	if err := sqlx.SelectContext(ctx, ext, &rows, q, cluster, db.Micros(from)); err != nil {
		return nil, fmt.Errorf("attribution: cluster conversions: %w", err)
	}
	return rows, nil
}

type touchRow struct {
	ID           int64  `db:"id"`
	Source       string `db:"source"`
	ExternalID   string `db:"external_id"`
	PayloadHash  string `db:"payload_hash"`
	IdentifierID int64  `db:"identifier_id"`
	StaffID      int64  `db:"staff_id"`
	Channel      string `db:"channel"`
	Kind         string `db:"kind"`
	CampaignID   int64  `db:"campaign_id"`
	OccurredAt   int64  `db:"occurred_at"`
	CreatedAt    int64  `db:"created_at"`
}

const touchCols = `id, source, external_id, payload_hash, identifier_id, staff_id, channel, kind, campaign_id, occurred_at, created_at`

func (s Store) touchByKey(ctx context.Context, ext sqlx.ExtContext, source, externalID string) (touchRow, error) {
	var r touchRow
	err := sqlx.GetContext(ctx, ext, &r, `SELECT `+touchCols+` FROM touches WHERE source = ? AND external_id = ?`, source, externalID)
	return r, err
}

func (s Store) insertTouch(ctx context.Context, ext sqlx.ExtContext, r touchRow) (int64, error) {
	res, err := ext.ExecContext(ctx, `INSERT INTO touches (source, external_id, payload_hash, identifier_id, staff_id, channel, kind, campaign_id, occurred_at, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, r.Source, r.ExternalID, r.PayloadHash, r.IdentifierID, r.StaffID, r.Channel, r.Kind, r.CampaignID, r.OccurredAt, r.CreatedAt)
	if s.Dialect.IsUniqueViolation(err) {
		return 0, errRaced
	}
	if err != nil {
		return 0, fmt.Errorf("attribution: insert touch: %w", err)
	}
	return res.LastInsertId()
}

// clusterTouches returns the remote/offline contacts of a cluster in [from, to].
func (s Store) clusterTouches(ctx context.Context, ext sqlx.ExtContext, cluster int64, from, to time.Time) ([]Touch, error) {
	var rows []touchRow
	q := `SELECT t.` + strings.ReplaceAll(touchCols, ", ", ", t.") + ` FROM touches t
		JOIN customer_identifiers i ON i.id = t.identifier_id
		WHERE i.cluster_id = ? AND t.occurred_at >= ? AND t.occurred_at <= ?`
	if err := sqlx.SelectContext(ctx, ext, &rows, q, cluster, db.Micros(from), db.Micros(to)); err != nil {
		return nil, fmt.Errorf("attribution: cluster touches: %w", err)
	}
	out := make([]Touch, len(rows))
	for i, r := range rows {
		out[i] = Touch{Source: "contact", ID: r.ID, At: db.FromMicros(r.OccurredAt), StaffID: r.StaffID, CampaignID: r.CampaignID, Channel: r.Channel, Kind: r.Kind}
	}
	return out, nil
}

// clusterTouchesAndLater is clusterTouches in [from, row's time] together
// with whether the cluster has a conversion after row (in time, then id),
// in one query.
func (s Store) clusterTouchesAndLater(ctx context.Context, ext sqlx.ExtContext, cluster int64, from time.Time, row conversionRow) ([]Touch, bool, error) {
	var rows []struct {
		touchRow
		Conv bool `db:"conv"`
	}
	q := `SELECT t.id, t.staff_id, t.channel, t.kind, t.campaign_id, t.occurred_at, 0 AS conv FROM touches t
		JOIN customer_identifiers i ON i.id = t.identifier_id
		WHERE i.cluster_id = ? AND t.occurred_at >= ? AND t.occurred_at <= ?
		UNION ALL
		SELECT c.id, 0, '', '', 0, c.occurred_at, 1 FROM conversions c
		JOIN customer_identifiers i ON i.id = c.identifier_id
		WHERE i.cluster_id = ? AND c.occurred_at >= ? AND c.id <> ?`
	if err := sqlx.SelectContext(ctx, ext, &rows, q, cluster, db.Micros(from), row.OccurredAt, cluster, row.OccurredAt, row.ID); err != nil {
		return nil, false, fmt.Errorf("attribution: cluster touches: %w", err)
	}
	out := make([]Touch, 0, len(rows))
	later := false
	for _, r := range rows {
		if r.Conv {
			later = later || isLater(conversionRow{ID: r.ID, OccurredAt: r.OccurredAt}, row)
			continue
		}
		out = append(out, Touch{Source: "contact", ID: r.ID, At: db.FromMicros(r.OccurredAt), StaffID: r.StaffID, CampaignID: r.CampaignID, Channel: r.Channel, Kind: r.Kind})
	}
	return out, later, nil
}

// protectionAt returns the latest protection that began in campaign for
// the cluster before the conversion (at, id) within days × 24 h, or nil.
func (s Store) protectionAt(ctx context.Context, ext sqlx.ExtContext, cluster, campaignID, convID int64, at time.Time, days int) (*Protection, error) {
	if days <= 0 {
		return nil, nil //nolint:nilnil // no protection is a valid answer
	}
	var rows []struct {
		ConversionID int64 `db:"conversion_id"`
		StaffID      int64 `db:"protector_id"`
		At           int64 `db:"occurred_at"`
	}
	us, from := db.Micros(at), db.Micros(at.Add(-time.Duration(days)*Day))
	err := sqlx.SelectContext(ctx, ext, &rows, `SELECT a.conversion_id, a.protector_id, a.occurred_at FROM attributions a
		JOIN conversions c ON c.id = a.conversion_id JOIN customer_identifiers i ON i.id = c.identifier_id
		WHERE i.cluster_id = ? AND a.campaign_id = ? AND a.protection_start = 1 AND a.occurred_at >= ?
		AND (a.occurred_at < ? OR (a.occurred_at = ? AND a.conversion_id < ?))
		ORDER BY a.occurred_at DESC, a.conversion_id DESC LIMIT 1`, cluster, campaignID, from, us, us, convID)
	if err != nil {
		return nil, fmt.Errorf("attribution: protection: %w", err)
	}
	if len(rows) == 0 {
		return nil, nil //nolint:nilnil // no protection is a valid answer
	}
	since := db.FromMicros(rows[0].At)
	return &Protection{StaffID: rows[0].StaffID, ConversionID: rows[0].ConversionID, Since: since, Until: since.Add(time.Duration(days) * Day)}, nil
}

type attributionRow struct {
	ID              int64  `db:"id"`
	ConversionID    int64  `db:"conversion_id"`
	CampaignID      int64  `db:"campaign_id"`
	Rule            string `db:"rule"`
	Reason          string `db:"reason"`
	ProtectionStart bool   `db:"protection_start"`
	ProtectorID     int64  `db:"protector_id"`
	OccurredAt      int64  `db:"occurred_at"`
	Explanation     string `db:"explanation"`
	Version         int    `db:"version"`
	UpdatedAt       int64  `db:"updated_at"`
}

func (r attributionRow) result() (Result, error) {
	var res Result
	if err := json.Unmarshal([]byte(r.Explanation), &res); err != nil {
		return Result{}, fmt.Errorf("attribution: explanation %d: %w", r.ID, err)
	}
	return res, nil
}

const attributionCols = `id, conversion_id, campaign_id, rule, reason, protection_start, protector_id, occurred_at, explanation, version, updated_at`

func (s Store) attributions(ctx context.Context, ext sqlx.ExtContext, convID int64) ([]attributionRow, error) {
	var rows []attributionRow
	if err := sqlx.SelectContext(ctx, ext, &rows, `SELECT `+attributionCols+` FROM attributions WHERE conversion_id = ? ORDER BY campaign_id`, convID); err != nil {
		return nil, fmt.Errorf("attribution: attributions: %w", err)
	}
	return rows, nil
}

// saveAttribution inserts or replaces the decision for (conversion, campaign).
func (s Store) saveAttribution(ctx context.Context, ext sqlx.ExtContext, convID int64, at time.Time, r Result, now time.Time) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("attribution: encode explanation: %w", err)
	}
	start, protector := 0, int64(0)
	if r.ProtectionStart {
		start, protector = 1, r.Protector()
	}
	res, err := ext.ExecContext(ctx, `UPDATE attributions SET rule = ?, reason = ?, protection_start = ?, protector_id = ?, explanation = ?,
		version = version + 1, updated_at = ? WHERE conversion_id = ? AND campaign_id = ?`,
		r.Rule, r.Reason, start, protector, string(b), db.Micros(now), convID, r.CampaignID)
	if err != nil {
		return fmt.Errorf("attribution: update attribution: %w", err)
	}
	if n, _ := res.RowsAffected(); n > 0 {
		return nil
	}
	return s.insertAttribution(ctx, ext, convID, at, r, now)
}

// insertAttribution stores the first decision for (conversion, campaign).
func (s Store) insertAttribution(ctx context.Context, ext sqlx.ExtContext, convID int64, at time.Time, r Result, now time.Time) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("attribution: encode explanation: %w", err)
	}
	start, protector := 0, int64(0)
	if r.ProtectionStart {
		start, protector = 1, r.Protector()
	}
	_, err = ext.ExecContext(ctx, `INSERT INTO attributions (conversion_id, campaign_id, rule, reason, protection_start, protector_id, occurred_at, explanation, version, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?)`, convID, r.CampaignID, r.Rule, r.Reason, start, protector, db.Micros(at), string(b), db.Micros(now))
	if err != nil {
		return fmt.Errorf("attribution: insert attribution: %w", err)
	}
	return nil
}

// creditRow is one stored credit.
type creditRow struct {
	ID           int64  `db:"id"`
	ConversionID int64  `db:"conversion_id"`
	CampaignID   int64  `db:"campaign_id"`
	StaffID      int64  `db:"staff_id"`
	Kind         string `db:"kind"`
	ReversalID   int64  `db:"reversal_id"`
	WeightMicro  int64  `db:"weight_micro"`
	CreditedFen  int64  `db:"credited_fen"`
	UnitID       int64  `db:"unit_id"`
	UnitPath     string `db:"unit_path"`
	TeamID       int64  `db:"team_id"`
	SubbranchID  int64  `db:"subbranch_id"`
	BranchID     int64  `db:"branch_id"`
	RegionID     int64  `db:"region_id"`
	Day          string `db:"day"`
	OccurredAt   int64  `db:"occurred_at"`
	CreatedAt    int64  `db:"created_at"`
}

func (c creditRow) chain() Chain {
	return Chain{UnitID: c.UnitID, UnitPath: c.UnitPath, TeamID: c.TeamID, SubbranchID: c.SubbranchID, BranchID: c.BranchID, RegionID: c.RegionID}
}

const creditCols = `id, conversion_id, campaign_id, staff_id, kind, reversal_id, weight_micro, credited_fen, unit_id, unit_path,
	team_id, subbranch_id, branch_id, region_id, day, occurred_at, created_at`

func (s Store) credits(ctx context.Context, ext sqlx.ExtContext, convID, campaignID int64) ([]creditRow, error) {
	var rows []creditRow
	if err := sqlx.SelectContext(ctx, ext, &rows, `SELECT `+creditCols+` FROM credits WHERE conversion_id = ? AND campaign_id = ? ORDER BY id`, convID, campaignID); err != nil {
		return nil, fmt.Errorf("attribution: credits: %w", err)
	}
	return rows, nil
}

// insertCredits stores credits (one statement) and their rollup deltas.
func (s Store) insertCredits(ctx context.Context, ext sqlx.ExtContext, rows []creditRow) error {
	if len(rows) == 0 {
		return nil
	}
	vals := make([]string, len(rows))
	args := make([]any, 0, 16*len(rows))
	for i, c := range rows {
		vals[i] = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
		args = append(args, c.ConversionID, c.CampaignID, c.StaffID, c.Kind, c.ReversalID, c.WeightMicro, c.CreditedFen,
			c.UnitID, c.UnitPath, c.TeamID, c.SubbranchID, c.BranchID, c.RegionID, c.Day, c.OccurredAt, c.CreatedAt)
	}
	if err := s.insertRows(ctx, ext, `INSERT INTO credits (conversion_id, campaign_id, staff_id, kind, reversal_id, weight_micro, credited_fen,
		unit_id, unit_path, team_id, subbranch_id, branch_id, region_id, day, occurred_at, created_at) VALUES `, vals, args); err != nil {
		return fmt.Errorf("attribution: insert credits: %w", err)
	}
	return s.addDeltas(ctx, ext, rows, 1)
}

// insertRows runs an INSERT of the rows vals (one "(?, …)" each, args in
// order): one multi-row statement on MySQL (one round trip), one
// single-row statement per row on SQLite, where statements run in-process
// and are prepared once (see stmtCache), and a single-row insert needs no
// statement journal (a multi-row one writes one to a temporary file).
func (s Store) insertRows(ctx context.Context, ext sqlx.ExtContext, head string, vals []string, args []any) error {
	if s.Dialect.Name() == "mysql" || len(vals) == 1 {
		_, err := ext.ExecContext(ctx, head+strings.Join(vals, ", "), args...)
		return err
	}
	n := len(args) / len(vals)
	for i, v := range vals {
		if _, err := ext.ExecContext(ctx, head+v, args[i*n:(i+1)*n]...); err != nil {
			return err
		}
	}
	return nil
}

// deleteCredits removes credits and appends the negative rollup deltas.
func (s Store) deleteCredits(ctx context.Context, ext sqlx.ExtContext, rows []creditRow) error {
	if len(rows) == 0 {
		return nil
	}
	ids := make([]int64, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	q, args, err := sqlx.In(`DELETE FROM credits WHERE id IN (?)`, ids)
	if err != nil {
		return fmt.Errorf("attribution: delete credits: %w", err)
	}
	if _, err := ext.ExecContext(ctx, ext.Rebind(q), args...); err != nil {
		return fmt.Errorf("attribution: delete credits: %w", err)
	}
	return s.addDeltas(ctx, ext, rows, -1)
}

// Rollup levels.
const (
	LevelStaff     = "staff"
	LevelTeam      = "team"
	LevelSubbranch = "subbranch"
	LevelBranch    = "branch"
	LevelRegion    = "region"
)

// levelKeys returns the rollup keys a credit counts under.
func levelKeys(c creditRow) map[string]int64 {
	return map[string]int64{LevelStaff: c.StaffID, LevelTeam: c.TeamID, LevelSubbranch: c.SubbranchID, LevelBranch: c.BranchID, LevelRegion: c.RegionID}
}

// addDeltas appends one delta per credit and level in one statement.
func (s Store) addDeltas(ctx context.Context, ext sqlx.ExtContext, rows []creditRow, sign int64) error {
	var vals []string
	var args []any
	for _, c := range rows {
		for _, lvl := range []string{LevelStaff, LevelTeam, LevelSubbranch, LevelBranch, LevelRegion} {
			key := levelKeys(c)[lvl]
			if key == 0 {
				continue
			}
			vals = append(vals, "(?, ?, ?, ?, ?, ?, ?)")
			args = append(args, c.CampaignID, lvl, key, c.Day, sign*c.WeightMicro, sign*c.CreditedFen, c.CreatedAt)
		}
	}
	if len(vals) == 0 {
		return nil
	}
	q := `INSERT INTO rollup_deltas (campaign_id, level, key_id, day, weight_micro, credited_fen, created_at) VALUES `
	if err := s.insertRows(ctx, ext, q, vals, args); err != nil {
		return fmt.Errorf("attribution: rollup deltas: %w", err)
	}
	return nil
}

// errRaced reports a unique key taken by a concurrent transaction; the
// whole transaction is retried and then finds the winner's row.
var errRaced = errors.New("attribution: idempotency key raced")
