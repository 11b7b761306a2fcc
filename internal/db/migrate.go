package db

import (
	"context"
	"fmt"

	"github.com/pressly/goose/v3"

	"rmref/migrations"
)

// MigrationStatus is one migration's version, name and whether it is applied.
type MigrationStatus struct {
	Version int64
	Name    string
	Applied bool
}

func (d *DB) provider() (*goose.Provider, error) {
	dialect := goose.DialectSQLite3
	if d.Dialect.Name() == "mysql" {
		dialect = goose.DialectMySQL
	}
	// Areas own version ranges (see migrations/README.md), so a lower
	// version may arrive after a higher one has been applied.
	p, err := goose.NewProvider(dialect, d.DB.DB, migrations.FS(d.Dialect.Name()),
		goose.WithAllowOutofOrder(true), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return nil, fmt.Errorf("db: migrations: %w", err)
	}
	return p, nil
}

// Migrate applies every pending migration and returns the names applied.
func (d *DB) Migrate(ctx context.Context) ([]string, error) {
	p, err := d.provider()
	if err != nil {
		return nil, err
	}
	res, err := p.Up(ctx)
	if err != nil {
		return nil, fmt.Errorf("db: migrate up: %w", err)
	}
	names := make([]string, len(res))
	for i, r := range res {
		names[i] = r.Source.Path
	}
	return names, nil
}

// MigrationStatuses lists every known migration and whether it is applied.
func (d *DB) MigrationStatuses(ctx context.Context) ([]MigrationStatus, error) {
	p, err := d.provider()
	if err != nil {
		return nil, err
	}
	st, err := p.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("db: migration status: %w", err)
	}
	out := make([]MigrationStatus, len(st))
	for i, s := range st {
		out[i] = MigrationStatus{Version: s.Source.Version, Name: s.Source.Path, Applied: s.State == goose.StateApplied}
	}
	return out, nil
}

// Version returns the highest applied migration version.
func (d *DB) Version(ctx context.Context) (int64, error) {
	p, err := d.provider()
	if err != nil {
		return 0, err
	}
	return p.GetDBVersion(ctx)
}
