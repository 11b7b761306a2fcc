package main

import (
	"context"
	"errors"
	"fmt"

	"rmref/internal/app"
)

func runToken(ctx context.Context, e env) error {
	fs := newFlags("token", e)
	emp := fs.String("employee", "", "employee number")
	demoMode := fs.Bool("demo", false, "use the demo secrets beside the database")
	cfg, err := loadConfig(fs, e, demoMode)
	if err != nil {
		return err
	}
	if *emp == "" {
		return errors.New("token: --employee is required")
	}
	a, err := app.Open(ctx, cfg, nil, newLogger(e, cfg))
	if err != nil {
		return err
	}
	defer a.Shutdown(context.Background())
	var row struct {
		ID  int64  `db:"id"`
		Ver int64  `db:"token_version"`
		St  string `db:"status"`
	}
	if err := a.DB.GetContext(ctx, &row, `SELECT id, token_version, status FROM staff WHERE employee_no = ?`, *emp); err != nil {
		return fmt.Errorf("token: no staff member %q", *emp)
	}
	if row.St != "active" {
		return fmt.Errorf("token: staff member %q has left", *emp)
	}
	tok, exp, err := a.Tokens.Issue(row.ID, *emp, row.Ver)
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, tok)
	fmt.Fprintf(e.stderr, "expires %s\n", exp.Format("2006-01-02T15:04:05Z07:00"))
	return nil
}
