package attribution

import (
	"context"
	"database/sql"
	"sync"

	"github.com/jmoiron/sqlx"
)

// stmtCache keeps prepared statements by their SQL text for SQLite, where
// the pure-Go driver parses every statement anew on each execution (about a
// third of the CPU of recording a conversion). It is bounded: past max
// texts (IN lists and multi-row inserts vary in length), statements run
// unprepared as before. MySQL interpolates parameters client-side and
// needs no cache (a prepared statement there costs round trips).
type stmtCache struct {
	db  *sqlx.DB
	mu  sync.Mutex
	m   map[string]*sqlx.Stmt
	max int
}

func newStmtCache(db *sqlx.DB) *stmtCache {
	return &stmtCache{db: db, m: map[string]*sqlx.Stmt{}, max: 256}
}

// get returns the prepared statement for q, or nil (cache full, or q did
// not prepare: it then runs unprepared and reports its own error).
func (c *stmtCache) get(ctx context.Context, q string) *sqlx.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.m[q]; ok {
		return s
	}
	if len(c.m) >= c.max {
		return nil
	}
	s, err := c.db.PreparexContext(ctx, q)
	if err != nil {
		return nil
	}
	c.m[q] = s
	return s
}

// cachedTx is a transaction whose statements come from a stmtCache: each
// is bound to the transaction's connection, where database/sql reuses the
// statement already prepared on that connection. The transaction closes
// its bound statements when it ends.
type cachedTx struct {
	*sqlx.Tx
	c *stmtCache
}

func (t cachedTx) stmt(ctx context.Context, q string) *sqlx.Stmt {
	if s := t.c.get(ctx, q); s != nil {
		return t.Tx.StmtxContext(ctx, s)
	}
	return nil
}

func (t cachedTx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if s := t.stmt(ctx, q); s != nil {
		return s.ExecContext(ctx, args...)
	}
	return t.Tx.ExecContext(ctx, q, args...)
}

func (t cachedTx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if s := t.stmt(ctx, q); s != nil {
		return s.QueryContext(ctx, args...)
	}
	return t.Tx.QueryContext(ctx, q, args...)
}

func (t cachedTx) QueryxContext(ctx context.Context, q string, args ...any) (*sqlx.Rows, error) {
	if s := t.stmt(ctx, q); s != nil {
		return s.QueryxContext(ctx, args...)
	}
	return t.Tx.QueryxContext(ctx, q, args...)
}

func (t cachedTx) QueryRowxContext(ctx context.Context, q string, args ...any) *sqlx.Row {
	if s := t.stmt(ctx, q); s != nil {
		return s.QueryRowxContext(ctx, args...)
	}
	return t.Tx.QueryRowxContext(ctx, q, args...)
}
