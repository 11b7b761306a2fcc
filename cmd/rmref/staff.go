package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"rmref/internal/app"
	"rmref/internal/auth"
)

// runStaff handles operator actions on staff accounts:
// staff activate --employee NO.
func runStaff(ctx context.Context, e env) error {
	if len(e.args) == 0 || e.args[0] != "activate" {
		return errors.New("usage: rmref staff activate --employee NO")
	}
	e.args = e.args[1:]
	fs := newFlags("staff activate", e)
	emp := fs.String("employee", "", "employee number")
	demoMode := fs.Bool("demo", false, "use the demo secrets beside the database")
	cfg, err := loadConfig(fs, e, demoMode)
	if err != nil {
		return err
	}
	if *emp == "" {
		return errors.New("staff activate: --employee is required")
	}
	a, err := app.Open(ctx, cfg, nil, newLogger(e, cfg))
	if err != nil {
		return err
	}
	defer a.Shutdown(context.Background())
	act, err := authService(a).IssueActivationByEmployee(ctx, *emp, "cli")
	if err != nil {
		return fmt.Errorf("staff activate: %w", err)
	}
	fmt.Fprintf(e.stdout, "activation code for %s: %s\n", act.EmployeeNo, act.Code)
	fmt.Fprintf(e.stdout, "valid until %s (single use): POST /api/v1/auth/activate {\"employee_no\", \"code\", \"password\"}\n", act.ExpiresAt.Format(time.RFC3339))
	return nil
}

// authService builds the sign-in and client service the HTTP API uses.
func authService(a *app.App) *auth.Service {
	return &auth.Service{DB: a.DB, Tokens: a.Tokens, Clock: a.Clock, RefreshTTL: a.Config.RefreshTTL, MasterKey: []byte(a.Config.HashKey)}
}
