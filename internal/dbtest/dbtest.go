// Package dbtest gives tests a real, migrated database: a fresh SQLite file
// per test always, and MariaDB/MySQL too when RMREF_TEST_MYSQL_DSN is set.
//
// On MySQL each test package (test binary) creates its own uniquely named
// database, migrates it once, and empties every table at the start of each
// test, so packages run in parallel while tests within a package that use
// MySQL must not call t.Parallel. Call Main from TestMain to drop the
// package's database at the end:
//
//	func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }
package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/go-sql-driver/mysql"

	"rmref/internal/db"
)

// EnvMySQL names the environment variable holding the MariaDB/MySQL DSN
// (e.g. "root@tcp(127.0.0.1:3306)/test").
const EnvMySQL = "RMREF_TEST_MYSQL_DSN"

// Each runs fn as a subtest on a fresh SQLite database ("sqlite") and, when
// RMREF_TEST_MYSQL_DSN is set, on an emptied MySQL database ("mysql").
func Each(t *testing.T, fn func(t *testing.T, d *db.DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, OpenSQLite(t)) })
	if os.Getenv(EnvMySQL) != "" {
		t.Run("mysql", func(t *testing.T) { fn(t, OpenMySQL(t)) })
	}
}

// Kinds returns the database kinds this run covers: "sqlite", and "mysql"
// when RMREF_TEST_MYSQL_DSN is set.
func Kinds() []string {
	if os.Getenv(EnvMySQL) != "" {
		return []string{"sqlite", "mysql"}
	}
	return []string{"sqlite"}
}

// Open returns a migrated database of the given kind ("sqlite" or "mysql").
func Open(tb testing.TB, kind string) *db.DB {
	tb.Helper()
	if kind == "mysql" {
		return OpenMySQL(tb)
	}
	return OpenSQLite(tb)
}

// OpenSQLite returns a fresh, migrated SQLite database in a temp dir.
func OpenSQLite(tb testing.TB) *db.DB {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "test.db")
	d, err := db.Open(context.Background(), path)
	if err != nil {
		tb.Fatalf("dbtest: %v", err)
	}
	tb.Cleanup(func() { d.Close() })
	if _, err := d.Migrate(context.Background()); err != nil {
		tb.Fatalf("dbtest: migrate sqlite: %v", err)
	}
	return d
}

// SQLitePath returns a path for a SQLite file in a temp dir (for tests that
// start the whole app and let it migrate).
func SQLitePath(tb testing.TB) string {
	tb.Helper()
	return filepath.Join(tb.TempDir(), "app.db")
}

var pkgDB struct {
	once sync.Once
	dsn  string // DSN of this package's database
	name string
	err  error
}

// MySQLDSN returns the DSN of this test package's own migrated MySQL
// database (created on first use), or skips the test when
// RMREF_TEST_MYSQL_DSN is unset. Tables are not emptied; see OpenMySQL.
func MySQLDSN(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv(EnvMySQL)
	if base == "" {
		tb.Skip("RMREF_TEST_MYSQL_DSN not set")
	}
	pkgDB.once.Do(func() { pkgDB.dsn, pkgDB.name, pkgDB.err = createPackageDB(base) })
	if pkgDB.err != nil {
		tb.Fatalf("dbtest: %v", pkgDB.err)
	}
	return pkgDB.dsn
}

// OpenMySQL returns this package's MySQL database with every table emptied.
func OpenMySQL(tb testing.TB) *db.DB {
	tb.Helper()
	dsn := MySQLDSN(tb)
	ctx := context.Background()
	d, err := db.Open(ctx, dsn)
	if err != nil {
		tb.Fatalf("dbtest: %v", err)
	}
	tb.Cleanup(func() { d.Close() })
	if err := truncateAll(ctx, d); err != nil {
		tb.Fatalf("dbtest: empty tables: %v", err)
	}
	return d
}

func createPackageDB(base string) (dsn, name string, err error) {
	cfg, err := mysql.ParseDSN(strings.TrimPrefix(base, "mysql://"))
	if err != nil {
		return "", "", fmt.Errorf("parse %s: %w", EnvMySQL, err)
	}
	ctx := context.Background()
	admin, err := db.Open(ctx, cfg.FormatDSN())
	if err != nil {
		return "", "", err
	}
	defer admin.Close()
	dropStale(ctx, admin)
	pkg := strings.TrimSuffix(filepath.Base(os.Args[0]), ".test")
	pkg = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, strings.ToLower(pkg))
	if len(pkg) > 20 {
		pkg = pkg[:20]
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name = fmt.Sprintf("rmreft_%s_%d_%s", pkg, os.Getpid(), hex.EncodeToString(b))
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name+" CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"); err != nil {
		return "", "", fmt.Errorf("create database %s: %w", name, err)
	}
	cfg.DBName = name
	dsn = cfg.FormatDSN()
	d, err := db.Open(ctx, dsn)
	if err != nil {
		return "", "", err
	}
	defer d.Close()
	if _, err := d.Migrate(ctx); err != nil {
		return "", "", fmt.Errorf("migrate %s: %w", name, err)
	}
	return dsn, name, nil
}

// dropStale drops test databases left by test processes that no longer
// run (killed before Main could drop them): their names carry the pid.
func dropStale(ctx context.Context, admin *db.DB) {
	var names []string
	if err := admin.SelectContext(ctx, &names, `SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 'rmreft\_%'`); err != nil {
		return
	}
	for _, n := range names {
		parts := strings.Split(n, "_")
		if len(parts) < 4 {
			continue
		}
		pid := parts[len(parts)-2]
		if _, err := os.Stat("/proc/" + pid); err == nil || !procfs() {
			continue
		}
		_, _ = admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+n)
	}
}

// procfs reports whether /proc lists processes (Linux), the only place
// dropStale can tell a dead test process from a live one.
func procfs() bool {
	_, err := os.Stat("/proc/self")
	return err == nil
}

func truncateAll(ctx context.Context, d *db.DB) error {
	var tables []string
	if err := d.SelectContext(ctx, &tables,
		`SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name <> 'goose_db_version'`); err != nil {
		return err
	}
	conn, err := d.Connx(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SET FOREIGN_KEY_CHECKS = 0"); err != nil {
		return err
	}
	defer conn.ExecContext(ctx, "SET FOREIGN_KEY_CHECKS = 1")
	for _, t := range tables {
		if _, err := conn.ExecContext(ctx, "DELETE FROM "+t); err != nil {
			return fmt.Errorf("delete from %s: %w", t, err)
		}
	}
	return nil
}

// Main runs the package's tests and then drops its MySQL database, if one
// was created. Use it from TestMain.
func Main(m *testing.M) int {
	code := m.Run()
	if pkgDB.name != "" {
		base := os.Getenv(EnvMySQL)
		cfg, err := mysql.ParseDSN(strings.TrimPrefix(base, "mysql://"))
		if err == nil {
			if admin, err := db.Open(context.Background(), cfg.FormatDSN()); err == nil {
				_, _ = admin.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+pkgDB.name)
				admin.Close()
			}
		}
	}
	return code
}

// RandHex returns n random bytes as hex, for unique names in tests.
func RandHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
