// Package db opens rmref's database (embedded SQLite or MySQL/MariaDB/TiDB),
// applies the embedded migrations, and holds the few things that differ
// between the two dialects. Domain stores take sqlx.ExtContext so that one
// function runs on a DB or inside a transaction.
package db

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jmoiron/sqlx"
	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver
)

// DB is an open database with its dialect.
type DB struct {
	*sqlx.DB
	Dialect Dialect
}

// IsMySQLDSN reports whether dsn names a MySQL-protocol server rather than
// a SQLite file.
func IsMySQLDSN(dsn string) bool {
	return strings.HasPrefix(dsn, "mysql://") || strings.Contains(dsn, "@tcp(") || strings.Contains(dsn, "@unix(")
}

// Open opens dsn: a MySQL DSN (go-sql-driver form, optionally prefixed
// "mysql://") or a SQLite file path. It does not migrate; see Migrate.
func Open(ctx context.Context, dsn string) (*DB, error) {
	if IsMySQLDSN(dsn) {
		return openMySQL(ctx, strings.TrimPrefix(dsn, "mysql://"))
	}
	return openSQLite(ctx, dsn)
}

func openSQLite(ctx context.Context, path string) (*DB, error) {
	q := url.Values{}
	for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "foreign_keys(1)", "synchronous(FULL)"} {
		q.Add("_pragma", p)
	}
	// Immediate transactions take the write lock at BEGIN, so two writers
	// never deadlock upgrading read locks; busy_timeout makes them queue.
	q.Set("_txlock", "immediate")
	sqldb, err := sqlx.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("db: open sqlite %s: %w", path, err)
	}
	sqldb.SetMaxOpenConns(8)
	sqldb.SetConnMaxIdleTime(time.Minute)
	d := &DB{DB: sqldb, Dialect: SQLite{}}
	if err := d.PingContext(ctx); err != nil {
		sqldb.Close()
		return nil, fmt.Errorf("db: ping sqlite %s: %w", path, err)
	}
	return d, nil
}

func openMySQL(ctx context.Context, dsn string) (*DB, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("db: parse mysql dsn: %w", err)
	}
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	cfg.Params["charset"] = "utf8mb4"
	cfg.Collation = "utf8mb4_bin"
	cfg.Loc = time.UTC
	cfg.ParseTime = true // goose's own version table has a TIMESTAMP
	// Affected rows count matched rows, as in SQLite, so a conditional
	// UPDATE that sets an unchanged value still reports it won.
	cfg.ClientFoundRows = true
	cfg.InterpolateParams = true
	cfg.MultiStatements = false
	sqldb, err := sqlx.Open("mysql", cfg.FormatDSN())
	if err != nil {
		return nil, fmt.Errorf("db: open mysql: %w", err)
	}
	sqldb.SetMaxOpenConns(64)
	sqldb.SetMaxIdleConns(64)
	sqldb.SetConnMaxLifetime(30 * time.Minute)
	d := &DB{DB: sqldb, Dialect: MySQL{}}
	if err := d.PingContext(ctx); err != nil {
		sqldb.Close()
		return nil, fmt.Errorf("db: ping mysql: %w", err)
	}
	return d, nil
}

// WithTx runs fn in a transaction: it commits when fn returns nil and rolls
// back otherwise (and on panic).
func (d *DB) WithTx(ctx context.Context, fn func(tx *sqlx.Tx) error) (err error) {
	tx, err := d.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("db: begin: %w", err)
	}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback()
			panic(p)
		}
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if err = fn(tx); err != nil {
		return err
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("db: commit: %w", err)
	}
	return nil
}

// Rebind rewrites ? placeholders for the driver (both use ?, so this is the
// identity today; it keeps sqlx.In results portable).
func (d *DB) Rebind(q string) string { return d.DB.Rebind(q) }

// ErrNoRows is sql.ErrNoRows, re-exported so stores need not import database/sql.
var ErrNoRows = sql.ErrNoRows
