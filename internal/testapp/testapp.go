// Package testapp starts the real rmref application on 127.0.0.1:0 for
// end-to-end tests, on a fresh SQLite database or this package's MySQL
// database, and gives tests an HTTP client that speaks to it as a client
// would (bearer tokens, signed service-client requests).
package testapp

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"rmref/internal/app"
	"rmref/internal/auth"
	"rmref/internal/clock"
	"rmref/internal/config"
	"rmref/internal/db"
	"rmref/internal/dbtest"
)

// App is a running application under test.
type App struct {
	*app.App
	URL   string // e.g. "http://127.0.0.1:41234"
	Clock *clock.Manual
	HTTP  *http.Client
	t     testing.TB
}

// Options adjust the application under test.
type Options struct {
	Now    time.Time // start of the manual clock (default 2026-11-02T02:00:00Z)
	Config func(*config.Config)
}

// Start starts the app on a database of the given kind ("sqlite" or
// "mysql"); it is shut down when the test ends.
func Start(t testing.TB, kind string, opts Options) *App {
	t.Helper()
	cfg := config.Default()
	cfg.JWTSecret = "test-secret-test-secret-test-secret-0123"
	cfg.HashKey = "test-hash-key-0123456789"
	cfg.Listen = "127.0.0.1:0"
	if kind == "mysql" {
		d := dbtest.OpenMySQL(t) // empties the package's database
		d.Close()
		cfg.DB = dbtest.MySQLDSN(t)
	} else {
		cfg.DB = dbtest.SQLitePath(t)
	}
	if opts.Now.IsZero() {
		opts.Now = time.Date(2026, 11, 2, 2, 0, 0, 0, time.UTC)
	}
	if opts.Config != nil {
		opts.Config(&cfg)
	}
	clk := clock.NewManual(opts.Now)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(&tlog{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	a, err := app.Open(context.Background(), cfg, clk, logger)
	if err != nil {
		t.Fatalf("testapp: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testapp: listen: %v", err)
	}
	go a.Serve(ln)
	ta := &App{App: a, URL: "http://" + ln.Addr().String(), Clock: clk, t: t,
		HTTP: &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = a.Shutdown(ctx)
	})
	return ta
}

type tlog struct{ t testing.TB }

func (l *tlog) Write(p []byte) (int, error) { l.t.Log(string(bytes.TrimSpace(p))); return len(p), nil }

// Response is a finished HTTP exchange.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v, failing the test on error.
func (r Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// Map decodes the body as a JSON object.
func (r Response) Map(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	r.JSON(t, &m)
	return m
}

// Do sends a request with an optional bearer token; body is JSON-encoded
// unless it is []byte or nil.
func (a *App) Do(method, path, token string, body any) Response {
	a.t.Helper()
	req := a.request(method, path, body)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return a.send(req)
}

// DoSigned sends a request signed as service client keyID with secret.
func (a *App) DoSigned(method, path, keyID, secret string, body any) Response {
	a.t.Helper()
	req := a.request(method, path, body)
	b, _ := io.ReadAll(req.Body)
	req.Body = io.NopCloser(bytes.NewReader(b))
	ts := a.Clock.Now().Unix()
	req.Header.Set(auth.HeaderKey, keyID)
	req.Header.Set(auth.HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(auth.HeaderSignature, auth.SignRequest(secret, method, req.URL.RequestURI(), ts, b))
	return a.send(req)
}

func (a *App) request(method, path string, body any) *http.Request {
	a.t.Helper()
	var rd io.Reader = http.NoBody
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			a.t.Fatalf("encode body: %v", err)
		}
		rd = bytes.NewReader(enc)
	}
	req, err := http.NewRequest(method, a.URL+path, rd)
	if err != nil {
		a.t.Fatalf("request: %v", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req
}

func (a *App) send(req *http.Request) Response {
	a.t.Helper()
	res, err := a.HTTP.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		a.t.Fatalf("read body: %v", err)
	}
	return Response{Status: res.StatusCode, Header: res.Header, Body: b}
}

// Token mints an access token for a staff member (as `rmref token` does).
func (a *App) Token(staffID int64) string {
	a.t.Helper()
	var ver int64
	if err := a.DB.GetContext(context.Background(), &ver, `SELECT token_version FROM staff WHERE id = ?`, staffID); err != nil {
		a.t.Fatalf("token: %v", err)
	}
	var emp string
	_ = a.DB.GetContext(context.Background(), &emp, `SELECT employee_no FROM staff WHERE id = ?`, staffID)
	tok, _, err := a.Tokens.Issue(staffID, emp, ver)
	if err != nil {
		a.t.Fatalf("token: %v", err)
	}
	return tok
}

// Client creates a service client with the given scopes and returns its key
// id and secret.
func (a *App) Client(name string, scopes ...string) (keyID, secret string) {
	a.t.Helper()
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	keyID, salt := "k_"+hex.EncodeToString(b), hex.EncodeToString(b)+"s"
	sc := ""
	for i, s := range scopes {
		if i > 0 {
			sc += ","
		}
		sc += s
	}
	_, err := a.DB.ExecContext(context.Background(),
		`INSERT INTO service_clients (key_id, name, salt, scopes, status, created_at) VALUES (?, ?, ?, ?, 'active', ?)`,
		keyID, name, salt, sc, db.Micros(a.Clock.Now()))
	if err != nil {
		a.t.Fatalf("client: %v", err)
	}
	return keyID, auth.ClientSecret([]byte(a.Config.HashKey), keyID, salt)
}

// Each runs fn against a fresh app on SQLite and, when configured, MySQL.
func Each(t *testing.T, opts Options, fn func(t *testing.T, a *App)) {
	t.Helper()
	for _, kind := range dbtest.Kinds() {
		t.Run(kind, func(t *testing.T) { fn(t, Start(t, kind, opts)) })
	}
}
