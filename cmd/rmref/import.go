package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"rmref/internal/app"
	"rmref/internal/apperr"
	"rmref/internal/auth"
	"rmref/org"
)

// runImport is `rmref import units|staff FILE.csv [--dry-run]`: the HR
// import, all or nothing, printing the diff.
func runImport(ctx context.Context, e env) error {
	if len(e.args) == 0 || (e.args[0] != "units" && e.args[0] != "staff") {
		return errors.New("import: usage: rmref import units|staff FILE.csv [--dry-run]")
	}
	kind := org.ImportKind(e.args[0])
	flags, files := splitArgs(e.args[1:])
	if len(files) != 1 {
		return errors.New("import: give exactly one CSV file")
	}
	fs := newFlags("import", e)
	dry := fs.Bool("dry-run", false, "print the diff without applying it")
	e.args = flags
	cfg, err := loadConfig(fs, e, nil)
	if err != nil {
		return err
	}
	f, err := os.Open(files[0])
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	defer f.Close()
	a, err := app.Open(ctx, cfg, nil, newLogger(e, cfg))
	if err != nil {
		return err
	}
	defer a.Shutdown(context.Background())
	svc := org.NewService(a.DB, a.Clock, a.PII, cfg.Location())
	operator := auth.Principal{Roles: []auth.Role{auth.RoleHQAdmin}}
	res, err := svc.Import(ctx, operator, kind, f, *dry)
	if err != nil {
		printRejection(e.stderr, err)
		return fmt.Errorf("import: %s rejected, nothing applied", files[0])
	}
	printImport(e.stdout, res)
	return nil
}

// splitArgs separates flags (which may follow the file name) from the
// positional arguments.
func splitArgs(args []string) (flags, rest []string) {
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			flags = append(flags, a)
		} else {
			rest = append(rest, a)
		}
	}
	return flags, rest
}

var rowField = regexp.MustCompile(`^rows\[(\d+)\]\.(.+)$`)

func printRejection(w io.Writer, err error) {
	ae, ok := apperr.As(err)
	if !ok || len(ae.Fields) == 0 {
		return
	}
	for _, f := range ae.Fields {
		if m := rowField.FindStringSubmatch(f.Field); m != nil {
			fmt.Fprintf(w, "line %s, column %s: %s\n", m[1], m[2], f.Message)
		} else {
			fmt.Fprintf(w, "%s: %s\n", f.Field, f.Message)
		}
	}
}

func printImport(w io.Writer, r org.ImportResult) {
	for _, c := range r.Changes {
		fmt.Fprintf(w, "%-16s %-12s %s\n", strings.Join(c.Actions, "+"), c.Key, c.Detail)
	}
	verb := "applied"
	if r.DryRun {
		verb = "dry run, nothing applied"
	}
	fmt.Fprintf(w, "%s: %d rows: %d created, %d updated, %d moved, %d left, %d unchanged (%s)\n",
		r.Kind, r.Rows, r.Created, r.Updated, r.Moved, r.Left, r.Unchanged, verb)
}
