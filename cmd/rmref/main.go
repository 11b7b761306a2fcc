// Command rmref is the whole service in one binary: the HTTP API (serve),
// the demo bank (demo, or serve --demo), migrations, operator tools
// (token, import, …). main only calls run.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// env is what a subcommand gets from the outside world.
type env struct {
	args   []string
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
}

// command is one subcommand.
type command struct {
	summary string
	run     func(ctx context.Context, e env) error
}

// commands lists the subcommands; each lives in its own file.
var commands = map[string]command{
	"serve":   {"serve the HTTP API (--demo: with the demo bank)", runServe},
	"demo":    {"serve the HTTP API with the demo bank (same as serve --demo)", runDemo},
	"migrate": {"apply migrations (status: show them)", runMigrate},
	"import":  {"import units|staff FILE.csv [--dry-run] (HR, all or nothing) | import conversions FILE (CSV or JSON lines)", runImportCommand},
	"check":   {"reconcile credits with amounts and rollups with a rebuild from credits", runCheck},
	"gen":     {"generate a bank for benchmarks: gen --scale small|medium|large --out FILE.jsonl", runGen},
	"token":   {"print a signed access token: token --employee NO", runToken},
	"staff":   {"staff accounts: staff activate --employee NO (one-time activation code)", runStaff},
	"clients": {"service clients: clients create --name N --scopes a,b | rotate --key K | revoke --key K | list", runClients},
	"settle":  {"settlement: settle --campaign CODE --period YYYY-MM --as HQ1 [--out F --format csv|jsonl] | --approve ID --as HQ2", runSettle},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, env{args: os.Args[1:], stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "rmref:", err)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, e env) error {
	if len(e.args) == 0 || e.args[0] == "help" || e.args[0] == "-h" || e.args[0] == "--help" {
		usage(e.stdout)
		return nil
	}
	cmd, ok := commands[e.args[0]]
	if !ok {
		usage(e.stderr)
		return fmt.Errorf("unknown command %q", e.args[0])
	}
	e.args = e.args[1:]
	return cmd.run(ctx, e)
}

func usage(w io.Writer) {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintln(w, "usage: rmref <command> [flags]\n\ncommands:")
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nEvery command reads RMREF_* environment variables; flags override them. See README.md.")
}

// newFlags returns a flag set for a subcommand that reports errors to e.stderr.
func newFlags(name string, e env) *flag.FlagSet {
	fs := flag.NewFlagSet("rmref "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	return fs
}

// oneLine joins a multi-line error for the start-up message.
func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }
