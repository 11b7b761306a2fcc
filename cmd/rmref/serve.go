package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"time"

	"rmref/internal/app"
	"rmref/internal/config"
	"rmref/internal/db"
	"rmref/internal/demo"
)

func runDemo(ctx context.Context, e env) error {
	e.args = append([]string{"--demo"}, e.args...)
	return runServe(ctx, e)
}

func runServe(ctx context.Context, e env) error {
	fs := newFlags("serve", e)
	demoMode := fs.Bool("demo", false, "create the demo bank (idempotent) and serve it")
	cfg, err := loadConfig(fs, e, demoMode)
	if err != nil {
		return err
	}
	logger := newLogger(e, cfg)
	a, err := app.Open(ctx, cfg, nil, logger)
	if err != nil {
		return err
	}
	logger.Info("starting rmref", "config", cfg)
	if cfg.Now != "" {
		logger.Warn("SIMULATION CLOCK: rmref runs at a simulated time, not the wall clock", "now", cfg.Now)
	}
	if cfg.Demo {
		if err := demo.Seed(ctx, a, e.stdout); err != nil {
			a.Shutdown(context.Background())
			return fmt.Errorf("demo: %w", err)
		}
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		a.Shutdown(context.Background())
		return fmt.Errorf("listen %s: %w", cfg.Listen, err)
	}
	logger.Info("listening", "addr", ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- a.Serve(ln) }()
	select {
	case err := <-errc:
		a.Shutdown(context.Background())
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return a.Shutdown(sctx)
}

// loadConfig loads the config; in demo mode (flag or RMREF_DEMO) missing
// secrets are generated and kept beside the SQLite file.
func loadConfig(fs interface {
	Parse([]string) error
}, e env, demoMode *bool) (config.Config, error) {
	flagSet := fs.(*flag.FlagSet)
	if demoMode == nil {
		// Operator commands run against the demo database too.
		demoMode = flagSet.Bool("demo", false, "use the demo secrets kept beside the database")
	}
	cfg, err := config.Load(flagSet, e.args, e.getenv)
	if err != nil {
		return cfg, err
	}
	if demoMode != nil && *demoMode {
		cfg.Demo = true
	}
	if cfg.Demo {
		dir := "."
		if !db.IsMySQLDSN(cfg.DB) {
			dir = filepath.Dir(cfg.DB)
		}
		if err := cfg.FillDemoSecrets(dir); err != nil {
			return cfg, err
		}
		if cfg.Now == "" {
			cfg.Now = e.getenv("RMREF_DEMO_NOW")
		}
		// Printed demo tokens should last a working day, not 15 minutes.
		if e.getenv("RMREF_ACCESS_TTL") == "" {
			cfg.AccessTTL = 12 * time.Hour
		}
	}
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("invalid configuration: %s", oneLine(err))
	}
	return cfg, nil
}

func newLogger(e env, cfg config.Config) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.LogLevel))
	return slog.New(slog.NewJSONHandler(e.stderr, &slog.HandlerOptions{Level: lvl}))
}
