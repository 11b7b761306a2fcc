package auth

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"rmref/internal/apperr"
	"rmref/internal/audit"
	"rmref/internal/db"
)

// ErrClientRevoked refuses to rotate a revoked client.
var ErrClientRevoked = apperr.Conflictf("client_revoked", "the client is revoked")

var scopeRE = regexp.MustCompile(`^[a-z][a-z0-9_.:-]{0,63}$`)

// Client is a service client as shown to operators (never its secret).
type Client struct {
	ID        int64      `json:"id,string"`
	KeyID     string     `json:"key_id"`
	Name      string     `json:"name"`
	Scopes    []string   `json:"scopes"`
	Status    string     `json:"status"`
	CreatedAt time.Time  `json:"created_at"`
	RotatedAt *time.Time `json:"rotated_at"`
	RevokedAt *time.Time `json:"revoked_at"`
}

// ClientSecretOnce is a client with its secret, returned by create and
// rotate only: the secret is derived, never stored, and shown once.
type ClientSecretOnce struct {
	Client
	Secret string `json:"secret"`
}

type clientRow struct {
	ID        int64  `db:"id"`
	KeyID     string `db:"key_id"`
	Name      string `db:"name"`
	Salt      string `db:"salt"`
	Scopes    string `db:"scopes"`
	Status    string `db:"status"`
	CreatedAt int64  `db:"created_at"`
	RotatedAt *int64 `db:"rotated_at"`
	RevokedAt *int64 `db:"revoked_at"`
}

func (r clientRow) client() Client {
	c := Client{ID: r.ID, KeyID: r.KeyID, Name: r.Name, Scopes: splitScopes(r.Scopes), Status: r.Status, CreatedAt: db.FromMicros(r.CreatedAt)}
	c.RotatedAt, c.RevokedAt = optTime(r.RotatedAt), optTime(r.RevokedAt)
	return c
}

func optTime(us *int64) *time.Time {
	if us == nil {
		return nil
	}
	t := db.FromMicros(*us)
	return &t
}

func splitScopes(s string) []string {
	out := []string{}
	for _, p := range strings.Split(s, ",") {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

// NewClient is the input of CreateClient.
type NewClient struct {
	Name   string   `json:"name"`
	Scopes []string `json:"scopes"`
}

// Validate checks the name (1..100 characters) and scopes (at least one,
// lowercase words like "conversions:write").
func (n NewClient) Validate() error {
	var c apperr.Collector
	name := strings.TrimSpace(n.Name)
	c.Check(name == "" || len([]rune(name)) > 100, "name", "required, at most 100 characters")
	c.Check(len(n.Scopes) == 0 || len(n.Scopes) > 20, "scopes", "from 1 to 20 scopes")
	for i, sc := range n.Scopes {
		c.Check(!scopeRE.MatchString(sc), fmt.Sprintf("scopes[%d]", i), "lowercase letters, digits and _ . : - (starting with a letter)")
	}
	return c.Err()
}

const qClientCols = `SELECT id, key_id, name, salt, scopes, status, created_at, rotated_at, revoked_at FROM service_clients`

// CreateClient creates a service client with a new key id and returns its
// secret, once. actor is recorded in the audit log.
func (s *Service) CreateClient(ctx context.Context, in NewClient, actor string) (ClientSecretOnce, error) {
	if err := in.Validate(); err != nil {
		return ClientSecretOnce{}, err
	}
	now := s.Clock.Now()
	var out ClientSecretOnce
	err := s.DB.WithTx(ctx, func(tx *sqlx.Tx) error {
		key, salt := "k_"+randomHex(12), randomHex(16)
		res, err := tx.ExecContext(ctx, `INSERT INTO service_clients (key_id, name, salt, scopes, status, created_at) VALUES (?, ?, ?, ?, 'active', ?)`,
			key, strings.TrimSpace(in.Name), salt, strings.Join(in.Scopes, ","), db.Micros(now))
		if err != nil {
			return fmt.Errorf("auth: create client: %w", err)
		}
		id, err := res.LastInsertId()
		if err != nil {
			return fmt.Errorf("auth: create client: %w", err)
		}
		out, err = s.clientChanged(ctx, tx, id, actor, "client.create", now)
		return err
	})
	return out, err
}

// RotateClient gives a client a new salt, hence a new secret (returned
// once); the old secret stops working at once.
func (s *Service) RotateClient(ctx context.Context, id int64, actor string) (ClientSecretOnce, error) {
	now := s.Clock.Now()
	var out ClientSecretOnce
	err := s.DB.WithTx(ctx, func(tx *sqlx.Tx) error {
		r, err := getClient(ctx, tx, `id = ?`, id)
		if err != nil {
			return err
		}
		if r.Status != "active" {
			return ErrClientRevoked
		}
		if _, err := tx.ExecContext(ctx, `UPDATE service_clients SET salt = ?, rotated_at = ? WHERE id = ?`, randomHex(16), db.Micros(now), id); err != nil {
			return fmt.Errorf("auth: rotate client: %w", err)
		}
		out, err = s.clientChanged(ctx, tx, id, actor, "client.rotate", now)
		return err
	})
	return out, err
}

// RevokeClient revokes a client for good; revoking twice is a no-op.
func (s *Service) RevokeClient(ctx context.Context, id int64, actor string) (Client, error) {
	now := s.Clock.Now()
	var out Client
	err := s.DB.WithTx(ctx, func(tx *sqlx.Tx) error {
		r, err := getClient(ctx, tx, `id = ?`, id)
		if err != nil || r.Status == "revoked" {
			out = r.client()
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE service_clients SET status = 'revoked', revoked_at = ? WHERE id = ?`, db.Micros(now), id); err != nil {
			return fmt.Errorf("auth: revoke client: %w", err)
		}
		c, err := s.clientChanged(ctx, tx, id, actor, "client.revoke", now)
		out = c.Client
		return err
	})
	return out, err
}

// clientChanged audits a change and returns the client with its current secret.
func (s *Service) clientChanged(ctx context.Context, tx *sqlx.Tx, id int64, actor, action string, now time.Time) (ClientSecretOnce, error) {
	r, err := getClient(ctx, tx, `id = ?`, id)
	if err != nil {
		return ClientSecretOnce{}, err
	}
	c := r.client()
	err = audit.Record(ctx, tx, audit.Entry{At: now, Actor: actor, Action: action, EntityType: "service_client",
		EntityID: fmt.Sprint(id), Detail: map[string]any{"key_id": c.KeyID, "name": c.Name, "scopes": c.Scopes}})
	if err != nil {
		return ClientSecretOnce{}, err
	}
	return ClientSecretOnce{Client: c, Secret: ClientSecret(s.MasterKey, r.KeyID, r.Salt)}, nil
}

func getClient(ctx context.Context, ext sqlx.ExtContext, where string, arg any) (clientRow, error) {
	var r clientRow
	err := sqlx.GetContext(ctx, ext, &r, qClientCols+` WHERE `+where, arg)
	if errors.Is(err, db.ErrNoRows) {
		return r, apperr.NotFoundf("no such client")
	}
	if err != nil {
		return r, fmt.Errorf("auth: load client: %w", err)
	}
	return r, nil
}

// ClientIDByKey returns the id of the client with key id key (CLI).
func (s *Service) ClientIDByKey(ctx context.Context, key string) (int64, error) {
	r, err := getClient(ctx, s.DB, `key_id = ?`, key)
	return r.ID, err
}

// ListClients returns clients by id after afterID, and the total count.
// It returns limit+1 rows at most, so callers can tell a next page exists.
func (s *Service) ListClients(ctx context.Context, afterID int64, limit int) ([]Client, int64, error) {
	var rows []clientRow
	if err := sqlx.SelectContext(ctx, s.DB, &rows, qClientCols+` WHERE id > ? ORDER BY id LIMIT ?`, afterID, limit+1); err != nil {
		return nil, 0, fmt.Errorf("auth: list clients: %w", err)
	}
	var total int64
	if err := sqlx.GetContext(ctx, s.DB, &total, `SELECT COUNT(*) FROM service_clients`); err != nil {
		return nil, 0, fmt.Errorf("auth: count clients: %w", err)
	}
	out := make([]Client, len(rows))
	for i, r := range rows {
		out[i] = r.client()
	}
	return out, total, nil
}
