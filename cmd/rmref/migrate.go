package main

import (
	"context"
	"fmt"

	"rmref/internal/config"
	"rmref/internal/db"
)

func runMigrate(ctx context.Context, e env) error {
	fs := newFlags("migrate", e)
	cfg, err := config.Load(fs, e.args, e.getenv)
	if err != nil {
		return err
	}
	d, err := db.Open(ctx, cfg.DB)
	if err != nil {
		return err
	}
	defer d.Close()
	if fs.Arg(0) == "status" {
		st, err := d.MigrationStatuses(ctx)
		if err != nil {
			return err
		}
		for _, s := range st {
			state := "pending"
			if s.Applied {
				state = "applied"
			}
			fmt.Fprintf(e.stdout, "%05d  %-8s %s\n", s.Version, state, s.Name)
		}
		return nil
	}
	applied, err := d.Migrate(ctx)
	if err != nil {
		return err
	}
	for _, n := range applied {
		fmt.Fprintln(e.stdout, "applied", n)
	}
	v, err := d.Version(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s database at version %d\n", d.Dialect.Name(), v)
	return nil
}
