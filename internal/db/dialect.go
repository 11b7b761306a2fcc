package db

import (
	"errors"
	"strings"

	"github.com/go-sql-driver/mysql"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Dialect holds the few SQL differences between SQLite and MySQL-family
// servers. Keep it small: grow it only when portable SQL cannot do.
type Dialect interface {
	// Name is "sqlite" or "mysql" (also the migrations folder).
	Name() string
	// Upsert returns the clause that follows INSERT … VALUES (…) to update
	// the given columns when a row with the same unique key exists.
	// conflict lists the unique key's columns (SQLite needs them).
	Upsert(conflict []string, update []string) string
	// IgnoreDup returns the clause that makes INSERT … VALUES (…) a no-op
	// when a row with the same unique key exists; col is any column of the
	// table (MySQL needs one to assign to itself).
	IgnoreDup(conflict []string, col string) string
	// IsUniqueViolation reports whether err is a unique-key violation,
	// judged by the driver's error code.
	IsUniqueViolation(err error) bool
}

// SQLite is the embedded dialect.
type SQLite struct{}

// Name returns "sqlite".
func (SQLite) Name() string { return "sqlite" }

// Upsert returns ON CONFLICT(…) DO UPDATE SET c = excluded.c.
func (SQLite) Upsert(conflict, update []string) string {
	sets := make([]string, len(update))
	for i, c := range update {
		sets[i] = c + " = excluded." + c
	}
	return "ON CONFLICT(" + strings.Join(conflict, ", ") + ") DO UPDATE SET " + strings.Join(sets, ", ")
}

// IgnoreDup returns ON CONFLICT(…) DO NOTHING.
func (SQLite) IgnoreDup(conflict []string, _ string) string {
	return "ON CONFLICT(" + strings.Join(conflict, ", ") + ") DO NOTHING"
}

// IsUniqueViolation checks SQLite's extended result codes.
func (SQLite) IsUniqueViolation(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		c := se.Code()
		return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// MySQL is the MySQL 8 / MariaDB / TiDB dialect.
type MySQL struct{}

// Name returns "mysql".
func (MySQL) Name() string { return "mysql" }

// Upsert returns ON DUPLICATE KEY UPDATE c = VALUES(c) (the form TiDB and
// MariaDB both accept; not the "AS new" alias).
func (MySQL) Upsert(_, update []string) string {
	sets := make([]string, len(update))
	for i, c := range update {
		sets[i] = c + " = VALUES(" + c + ")"
	}
	return "ON DUPLICATE KEY UPDATE " + strings.Join(sets, ", ")
}

// IgnoreDup returns ON DUPLICATE KEY UPDATE col = col.
func (MySQL) IgnoreDup(_ []string, col string) string {
	return "ON DUPLICATE KEY UPDATE " + col + " = " + col
}

// IsUniqueViolation checks MySQL error 1062 (ER_DUP_ENTRY).
func (MySQL) IsUniqueViolation(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1062
}
