// Package server is rmref's HTTP tier: the only package that imports gin.
// It turns requests into service calls, errors into RFC 9457 problem+json
// from one table, and carries the authentication middleware. Each domain's
// routes live in their own file (org.go, campaign.go, …) and build their
// services from the shared Deps.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"

	"github.com/gin-gonic/gin"

	"rmref/internal/auth"
	"rmref/internal/clock"
	"rmref/internal/config"
	"rmref/internal/db"
	"rmref/internal/pii"
)

// Deps are what every route needs; domain services are built from them.
type Deps struct {
	Config config.Config
	DB     *db.DB
	Clock  clock.Clock
	Logger *slog.Logger
	Tokens *auth.Tokens
	PII    *pii.Hasher
}

// Server is the HTTP API.
type Server struct {
	Deps
	engine *gin.Engine

	mu       sync.Mutex
	closers  []func(context.Context) error
	starters []func()
	started  bool
	openapi  []byte
	routeErr error
}

// New builds the server and registers every route.
func New(d Deps) (*Server, error) {
	gin.SetMode(gin.ReleaseMode)
	s := &Server{Deps: d, engine: gin.New()}
	s.engine.HandleMethodNotAllowed = true
	s.engine.ContextWithFallback = true
	// Client IPs (rate limits, burst rules, IP hashes) come from the
	// connection unless a configured proxy sent X-Forwarded-For: a client
	// cannot pick its own IP by sending the header.
	if err := s.engine.SetTrustedProxies(d.Config.TrustedProxies); err != nil {
		return nil, fmt.Errorf("server: trusted proxies: %w", err)
	}
	s.engine.Use(s.recoverer(), s.requestID(), s.accessLog(), s.bodyLimit())
	s.engine.NoRoute(func(c *gin.Context) { s.fail(c, errNoRoute) })
	s.engine.NoMethod(func(c *gin.Context) { s.fail(c, errNoMethod) })
	doc, err := buildOpenAPI()
	if err != nil {
		return nil, err
	}
	s.openapi = doc
	s.routes()
	if s.routeErr != nil {
		return nil, s.routeErr
	}
	return s, nil
}

// Handler returns the HTTP handler.
func (s *Server) Handler() http.Handler { return s.engine }

// Routes lists the registered method and path pairs (gin syntax).
func (s *Server) Routes() []gin.RouteInfo { return s.engine.Routes() }

// OnShutdown registers fn to run at graceful shutdown (e.g. flushing
// buffered click writes), after the listener stops accepting requests.
func (s *Server) OnShutdown(fn func(context.Context) error) {
	s.mu.Lock()
	s.closers = append(s.closers, fn)
	s.mu.Unlock()
}

// OnServe registers fn to run in the background once the server starts
// serving (not when a command only opens the app, e.g. an import).
func (s *Server) OnServe(fn func()) {
	s.mu.Lock()
	s.starters = append(s.starters, fn)
	s.mu.Unlock()
}

// Serving runs the OnServe hooks, once.
func (s *Server) Serving() {
	s.mu.Lock()
	fns := s.starters
	if s.started {
		fns = nil
	}
	s.started = true
	s.mu.Unlock()
	for _, fn := range fns {
		go fn()
	}
}

// Shutdown runs the shutdown hooks in reverse order of registration.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	fns := append([]func(context.Context) error(nil), s.closers...)
	s.mu.Unlock()
	var errs []error
	for i := len(fns) - 1; i >= 0; i-- {
		errs = append(errs, fns[i](ctx))
	}
	return errors.Join(errs...)
}

// setupErr records an error found while registering routes (e.g. a bad
// font file); New returns it.
func (s *Server) setupErr(err error) {
	if err != nil && s.routeErr == nil {
		s.routeErr = err
	}
}
