package customer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"rmref/internal/apperr"
	"rmref/internal/db"
)

// Store is the SQL of customers and identifiers.
type Store struct {
	Dialect db.Dialect
}

type identRow struct {
	ID        int64  `db:"id"`
	Kind      string `db:"kind"`
	Value     string `db:"value"`
	ClusterID int64  `db:"cluster_id"`
	New       bool   `db:"-"` // created by this call
}

// lockSuffix makes a read a locking read on MySQL, so that it sees rows
// committed by transactions it waited for (SQLite transactions are
// serialised, so a plain read already does).
func lockSuffix(d db.Dialect) string {
	if d.Name() == "mysql" {
		return " FOR UPDATE"
	}
	return ""
}

const insertIdent = `INSERT INTO customer_identifiers (kind, value, cluster_id, created_at) VALUES (?, ?, 0, ?) `

const selectIdent = `SELECT id, kind, value, cluster_id FROM customer_identifiers WHERE kind = ? AND value = ?`

// Ensure creates the identifiers that do not exist yet (each its own
// cluster) and returns all of them in order, locked for the transaction.
func (s Store) Ensure(ctx context.Context, ext sqlx.ExtContext, ids []Identifier, now time.Time) ([]identRow, error) {
	rows, _, err := s.ensure(ctx, ext, ids, now)
	return rows, err
}

// clusterRead is what ensure's first (plain) read saw: every identifier of
// the clusters the given identifiers belonged to, so that a link that
// joins nothing needs no second read of its cluster.
type clusterRead struct {
	rows []identRow
	root map[int64]int64 // identifier id → cluster root as read
}

// cluster returns the identifiers of cluster root as read, when every row
// (locked since) still has the root it had in that read.
func (c clusterRead) cluster(rows []identRow, root int64) (Cluster, bool) {
	for _, r := range rows {
		if r.New || c.root[r.ID] != r.ClusterID {
			return Cluster{}, false
		}
	}
	cl := Cluster{ID: root}
	for _, r := range c.rows { // ordered by id
		if r.ClusterID == root {
			cl.Identifiers = append(cl.Identifiers, Identifier{Kind: Kind(r.Kind), Value: r.Value})
		}
	}
	return cl, len(cl.Identifiers) > 0
}

// ensure is Ensure that also returns its first read. One plain read finds
// the known identifiers with their clusters; on MySQL the known ones are
// then locked by primary key in one read (a locking read of a missing key
// would take a gap lock that concurrent inserts of other new keys deadlock
// on), and each missing one is inserted, then read with a lock.
func (s Store) ensure(ctx context.Context, ext sqlx.ExtContext, ids []Identifier, now time.Time) ([]identRow, clusterRead, error) {
	read, err := s.readClusters(ctx, ext, ids)
	if err != nil {
		return nil, read, err
	}
	out := make([]identRow, len(ids))
	found := make([]bool, len(ids))
	var lockIDs []int64
	for i, id := range ids {
		for _, r := range read.rows {
			if r.Kind == string(id.Kind) && r.Value == id.Value {
				out[i], found[i] = r, true
				lockIDs = append(lockIDs, r.ID)
				break
			}
		}
	}
	if len(lockIDs) > 0 && lockSuffix(s.Dialect) != "" {
		q, args, err := sqlx.In(`SELECT id, kind, value, cluster_id FROM customer_identifiers WHERE id IN (?) FOR UPDATE`, lockIDs)
		if err != nil {
			return nil, read, fmt.Errorf("customer: lock identifiers: %w", err)
		}
		var locked []identRow
		if err := sqlx.SelectContext(ctx, ext, &locked, ext.Rebind(q), args...); err != nil {
			return nil, read, fmt.Errorf("customer: lock identifiers: %w", err)
		}
		byID := make(map[int64]identRow, len(locked))
		for _, r := range locked {
			byID[r.ID] = r
		}
		for i := range out {
			if found[i] {
				out[i], found[i] = byID[out[i].ID], byID[out[i].ID].ID != 0
			}
		}
	}
	for i, id := range ids {
		if found[i] {
			continue
		}
		if out[i], err = s.ensureOne(ctx, ext, id, now, false); err != nil {
			return nil, read, err
		}
	}
	return out, read, nil
}

// readClusters reads, without locking, every identifier of the clusters
// the given identifiers belong to, ordered by id.
func (s Store) readClusters(ctx context.Context, ext sqlx.ExtContext, ids []Identifier) (clusterRead, error) {
	conds := make([]string, len(ids))
	args := make([]any, 0, 2*len(ids))
	for i, id := range ids {
		conds[i] = "(k.kind = ? AND k.value = ?)"
		args = append(args, id.Kind, id.Value)
	}
	var rows []identRow
	q := `SELECT DISTINCT i.id, i.kind, i.value, i.cluster_id FROM customer_identifiers k
		JOIN customer_identifiers i ON i.cluster_id = k.cluster_id
		WHERE k.cluster_id <> 0 AND (` + strings.Join(conds, " OR ") + `) ORDER BY i.id`
	if err := sqlx.SelectContext(ctx, ext, &rows, q, args...); err != nil {
		return clusterRead{}, fmt.Errorf("customer: read identifiers: %w", err)
	}
	read := clusterRead{rows: rows, root: make(map[int64]int64, len(rows))}
	for _, r := range rows {
		read.root[r.ID] = r.ClusterID
	}
	return read, nil
}

// ensureOne ensures one identifier; read is false when a plain read just
// missed it (it is then inserted straight away).
func (s Store) ensureOne(ctx context.Context, ext sqlx.ExtContext, id Identifier, now time.Time, read bool) (identRow, error) {
	// A plain read first: on SQLite (serialised transactions) it is
	// current; on MySQL a locking read of a missing key would take a gap
	// lock that concurrent inserts of other new keys deadlock on, so a
	// missing identifier is inserted first and then read with a lock.
	var r identRow
	found := false
	if read {
		err := sqlx.GetContext(ctx, ext, &r, selectIdent, id.Kind, id.Value)
		found = err == nil
		if err != nil && !errors.Is(err, db.ErrNoRows) {
			return identRow{}, fmt.Errorf("customer: read identifier: %w", err)
		}
	}
	if found && r.ClusterID != 0 && lockSuffix(s.Dialect) == "" {
		return r, nil
	}
	if !found {
		q := insertIdent + s.Dialect.IgnoreDup([]string{"kind", "value"}, "kind")
		if _, err := ext.ExecContext(ctx, q, id.Kind, id.Value, db.Micros(now)); err != nil {
			return identRow{}, fmt.Errorf("customer: insert identifier: %w", err)
		}
	}
	if err := sqlx.GetContext(ctx, ext, &r, selectIdent+lockSuffix(s.Dialect), id.Kind, id.Value); err != nil {
		return identRow{}, fmt.Errorf("customer: read identifier: %w", err)
	}
	if r.ClusterID == 0 {
		if _, err := ext.ExecContext(ctx, `UPDATE customer_identifiers SET cluster_id = id WHERE id = ?`, r.ID); err != nil {
			return identRow{}, fmt.Errorf("customer: root identifier: %w", err)
		}
		r.ClusterID, r.New = r.ID, true
	}
	return r, nil
}

// CustomerNos returns the distinct bank customer ids in the given clusters.
func (s Store) CustomerNos(ctx context.Context, ext sqlx.ExtContext, roots []int64) ([]string, error) {
	q, args, err := sqlx.In(`SELECT DISTINCT value FROM customer_identifiers WHERE kind = ? AND cluster_id IN (?)`, KindCustomerID, roots)
	if err != nil {
		return nil, fmt.Errorf("customer: customer nos: %w", err)
	}
	var out []string
	if err := sqlx.SelectContext(ctx, ext, &out, ext.Rebind(q), args...); err != nil {
		return nil, fmt.Errorf("customer: customer nos: %w", err)
	}
	return out, nil
}

// Merge re-points every identifier of the absorbed clusters to root.
func (s Store) Merge(ctx context.Context, ext sqlx.ExtContext, root int64, absorbed []int64) error {
	q, args, err := sqlx.In(`UPDATE customer_identifiers SET cluster_id = ? WHERE cluster_id IN (?)`, root, absorbed)
	if err != nil {
		return fmt.Errorf("customer: merge: %w", err)
	}
	if _, err := ext.ExecContext(ctx, ext.Rebind(q), args...); err != nil {
		return fmt.Errorf("customer: merge: %w", err)
	}
	return nil
}

// RecordLink remembers that identifiers a and b were linked by source.
func (s Store) RecordLink(ctx context.Context, ext sqlx.ExtContext, a, b int64, source string, now time.Time) error {
	q := `INSERT INTO identity_links (a_id, b_id, source, created_at) VALUES (?, ?, ?, ?) ` + s.Dialect.IgnoreDup([]string{"a_id", "b_id"}, "a_id")
	if _, err := ext.ExecContext(ctx, q, min(a, b), max(a, b), source, db.Micros(now)); err != nil {
		return fmt.Errorf("customer: record link: %w", err)
	}
	return nil
}

// EnsureCustomer creates the customer with bank id no if it is new.
func (s Store) EnsureCustomer(ctx context.Context, ext sqlx.ExtContext, no string, now time.Time) error {
	q := `INSERT INTO customers (customer_no, created_at) VALUES (?, ?) ` + s.Dialect.IgnoreDup([]string{"customer_no"}, "customer_no")
	if _, err := ext.ExecContext(ctx, q, no, db.Micros(now)); err != nil {
		return fmt.Errorf("customer: ensure customer: %w", err)
	}
	return nil
}

// ErrUnknownIdentifier is returned for an identifier rmref has never seen.
var ErrUnknownIdentifier = apperr.NotFoundf("no such customer identifier")

// RootOf returns the cluster root of an identifier.
func (s Store) RootOf(ctx context.Context, ext sqlx.ExtContext, id Identifier) (int64, error) {
	var r identRow
	err := sqlx.GetContext(ctx, ext, &r, selectIdent, id.Kind, id.Value)
	if errors.Is(err, db.ErrNoRows) {
		return 0, ErrUnknownIdentifier
	}
	if err != nil {
		return 0, fmt.Errorf("customer: root of: %w", err)
	}
	return r.ClusterID, nil
}

// RootOfID returns the cluster root of the identifier with the given id.
func (s Store) RootOfID(ctx context.Context, ext sqlx.ExtContext, identID int64) (int64, error) {
	var root int64
	err := sqlx.GetContext(ctx, ext, &root, `SELECT cluster_id FROM customer_identifiers WHERE id = ?`, identID)
	if errors.Is(err, db.ErrNoRows) {
		return 0, ErrUnknownIdentifier
	}
	if err != nil {
		return 0, fmt.Errorf("customer: root of id: %w", err)
	}
	return root, nil
}

// Cluster returns the identifiers of the cluster with the given root.
func (s Store) Cluster(ctx context.Context, ext sqlx.ExtContext, root int64) (Cluster, error) {
	var rows []identRow
	err := sqlx.SelectContext(ctx, ext, &rows, `SELECT id, kind, value, cluster_id FROM customer_identifiers WHERE cluster_id = ? ORDER BY id`, root)
	if err != nil {
		return Cluster{}, fmt.Errorf("customer: cluster: %w", err)
	}
	if len(rows) == 0 {
		return Cluster{}, ErrUnknownIdentifier
	}
	c := Cluster{ID: root, Identifiers: make([]Identifier, len(rows))}
	for i, r := range rows {
		c.Identifiers[i] = Identifier{Kind: Kind(r.Kind), Value: r.Value}
	}
	return c, nil
}
