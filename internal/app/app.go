// Package app wires rmref together: config → database (migrated) → clock →
// services → HTTP server. cmd/rmref and the end-to-end tests both start
// the real application through it.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"rmref/internal/auth"
	"rmref/internal/clock"
	"rmref/internal/config"
	"rmref/internal/db"
	"rmref/internal/pii"
	"rmref/internal/server"
)

// App is a running (or ready to run) rmref.
type App struct {
	Config config.Config
	DB     *db.DB
	Clock  clock.Clock
	Logger *slog.Logger
	Tokens *auth.Tokens
	PII    *pii.Hasher
	Server *server.Server

	http *http.Server
}

// NewClock returns the clock the config asks for: a simulation clock when
// Now is set, else the system clock.
func NewClock(cfg config.Config) (clock.Clock, error) {
	if cfg.Now == "" {
		return clock.System{}, nil
	}
	t, err := time.Parse(time.RFC3339, cfg.Now)
	if err != nil {
		return nil, fmt.Errorf("app: RMREF_NOW: %w", err)
	}
	return clock.NewSim(t), nil
}

// Open opens and migrates the database and builds the services. clk may be
// nil (the config's clock is used).
func Open(ctx context.Context, cfg config.Config, clk clock.Clock, logger *slog.Logger) (*App, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if clk == nil {
		var err error
		if clk, err = NewClock(cfg); err != nil {
			return nil, err
		}
	}
	d, err := db.Open(ctx, cfg.DB)
	if err != nil {
		return nil, err
	}
	if _, err := d.Migrate(ctx); err != nil {
		d.Close()
		return nil, err
	}
	a, err := build(cfg, d, clk, logger)
	if err != nil {
		d.Close()
		return nil, err
	}
	return a, nil
}

func build(cfg config.Config, d *db.DB, clk clock.Clock, logger *slog.Logger) (*App, error) {
	tokens, err := auth.NewTokens(auth.TokenConfig{
		Alg: cfg.JWTAlg, Secret: []byte(cfg.JWTSecret), KeyFile: cfg.JWTKeyFile,
		Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience, TTL: cfg.AccessTTL, Leeway: 30 * time.Second,
	}, clk)
	if err != nil {
		return nil, err
	}
	a := &App{Config: cfg, DB: d, Clock: clk, Logger: logger, Tokens: tokens, PII: pii.NewHasher([]byte(cfg.HashKey))}
	a.Server, err = server.New(server.Deps{Config: cfg, DB: d, Clock: clk, Logger: logger, Tokens: tokens, PII: a.PII})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// Serve serves HTTP on ln until Shutdown.
func (a *App) Serve(ln net.Listener) error {
	a.http = &http.Server{Handler: a.Server.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	a.Server.Serving()
	err := a.http.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting requests, waits for those in flight, runs the
// server's shutdown hooks (flushing buffered writes) and closes the database.
func (a *App) Shutdown(ctx context.Context) error {
	var errs []error
	if a.http != nil {
		errs = append(errs, a.http.Shutdown(ctx))
	}
	errs = append(errs, a.Server.Shutdown(ctx), a.DB.Close())
	return errors.Join(errs...)
}
