package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"rmref/internal/app"
	"rmref/internal/auth"
)

const clientsUsage = "usage: rmref clients create --name N --scopes a,b | rotate --key K | revoke --key K | list"

// runClients manages service clients (upstream systems) from the shell.
// Secrets are printed once, at create and rotate.
func runClients(ctx context.Context, e env) error {
	if len(e.args) == 0 || !strings.Contains(" create rotate revoke list ", " "+e.args[0]+" ") {
		return errors.New(clientsUsage)
	}
	sub := e.args[0]
	e.args = e.args[1:]
	fs := newFlags("clients "+sub, e)
	name := fs.String("name", "", "client name (create)")
	scopes := fs.String("scopes", "", "comma-separated scopes (create)")
	key := fs.String("key", "", "key id (rotate, revoke)")
	demoMode := fs.Bool("demo", false, "use the demo secrets beside the database")
	cfg, err := loadConfig(fs, e, demoMode)
	if err != nil {
		return err
	}
	a, err := app.Open(ctx, cfg, nil, newLogger(e, cfg))
	if err != nil {
		return err
	}
	defer a.Shutdown(context.Background())
	svc := authService(a)
	switch sub {
	case "create":
		c, err := svc.CreateClient(ctx, auth.NewClient{Name: *name, Scopes: splitScopes(*scopes)}, "cli")
		return printSecret(e.stdout, c, err)
	case "rotate", "revoke":
		return keyAction(ctx, e.stdout, svc, sub, *key)
	}
	return listClients(ctx, e.stdout, svc)
}

func splitScopes(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func keyAction(ctx context.Context, w io.Writer, svc *auth.Service, sub, key string) error {
	if key == "" {
		return fmt.Errorf("clients %s: --key is required", sub)
	}
	id, err := svc.ClientIDByKey(ctx, key)
	if err != nil {
		return fmt.Errorf("clients %s: %w", sub, err)
	}
	if sub == "rotate" {
		c, err := svc.RotateClient(ctx, id, "cli")
		return printSecret(w, c, err)
	}
	c, err := svc.RevokeClient(ctx, id, "cli")
	if err != nil {
		return fmt.Errorf("clients revoke: %w", err)
	}
	fmt.Fprintf(w, "revoked %s (%s)\n", c.KeyID, c.Name)
	return nil
}

func printSecret(w io.Writer, c auth.ClientSecretOnce, err error) error {
	if err != nil {
		return fmt.Errorf("clients: %w", err)
	}
	fmt.Fprintf(w, "name:   %s\nscopes: %s\nkey:    %s\nsecret: %s\n", c.Name, strings.Join(c.Scopes, ","), c.KeyID, c.Secret)
	fmt.Fprintln(w, "The secret is shown once; store it now. Sign requests as docs/AUTH.md describes.")
	return nil
}

func listClients(ctx context.Context, w io.Writer, svc *auth.Service) error {
	after := int64(0)
	for {
		cs, _, err := svc.ListClients(ctx, after, 500)
		if err != nil {
			return err
		}
		for i, c := range cs {
			if i == 500 {
				break
			}
			fmt.Fprintf(w, "%-28s %-8s %-20s %s  created %s\n", c.KeyID, c.Status, strings.Join(c.Scopes, ","), c.Name, c.CreatedAt.Format(time.RFC3339))
			after = c.ID
		}
		if len(cs) <= 500 {
			return nil
		}
	}
}
