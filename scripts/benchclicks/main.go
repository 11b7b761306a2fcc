// Command benchclicks supports scripts/bench-clicks.sh: it seeds a
// database with one staff member and their general code, serves a bare gin
// handler that sends the same 302 as a share link without recording
// anything (the baseline), and counts click rows after a run.
//
//	benchclicks seed  -db DSN            prints the code
//	benchclicks bare  -listen ADDR       serves the bare redirect
//	benchclicks count -db DSN            prints the number of click rows
//	benchclicks serve -cpuprofile FILE   serves the app like `rmref serve`
//	                                     (RMREF_* environment), writing a CPU
//	                                     profile until SIGTERM/SIGINT
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"

	"rmref/internal/app"
	"rmref/internal/clock"
	"rmref/internal/config"
	"rmref/internal/db"
	"rmref/internal/testapp"
	"rmref/referral"
)

func main() {
	if err := run(context.Background(), os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "benchclicks:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errors.New("usage: benchclicks seed|bare|count|serve [flags]")
	}
	if args[0] == "serve" {
		return serve(ctx, args[1:])
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	dsn := fs.String("db", "", "SQLite path or MySQL DSN")
	listen := fs.String("listen", "127.0.0.1:18090", "bare: listen address")
	hashKey := fs.String("hash-key", os.Getenv("RMREF_HASH_KEY"), "seed: the server's RMREF_HASH_KEY")
	staff := fs.Int("staff", 1, "seed: staff members (one code each; codes printed one a line)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	switch args[0] {
	case "seed":
		return seed(ctx, *dsn, *hashKey, *staff)
	case "bare":
		return bare(*listen)
	case "count":
		return count(ctx, *dsn)
	}
	return fmt.Errorf("unknown command %q", args[0])
}

// fatal adapts errors to the seeder's test-style interface.
type fatal struct{ err error }

func (f *fatal) Helper() {}
func (f *fatal) Fatalf(format string, args ...any) {
	f.err = fmt.Errorf(format, args...)
	panic(f)
}

func seed(ctx context.Context, dsn, hashKey string, n int) (err error) {
	d, err := db.Open(ctx, dsn)
	if err != nil {
		return err
	}
	defer d.Close()
	if _, err := d.Migrate(ctx); err != nil {
		return err
	}
	f := &fatal{}
	defer func() {
		if r := recover(); r != nil {
			if r != f {
				panic(r)
			}
			err = f.err
		}
	}()
	s := testapp.NewSeeder(f, d)
	unit := s.Unit("branch", "BENCH", "压测支行", 0)
	svc := referral.NewService(d, clock.System{}, nil, referral.Config{HashKey: []byte(hashKey)})
	defer svc.Close(ctx)
	for i := range n {
		id := s.Staff("BENCH"+strconv.Itoa(i), "压测员工"+strconv.Itoa(i), unit)
		c, err := svc.CodeFor(ctx, id, 0)
		if err != nil {
			return err
		}
		fmt.Println(c.Code)
	}
	return nil
}

// bare answers every share link with the same kind of 302 the real
// handler sends (landing URL plus a token of the same length), and nothing
// else: the ceiling a recording handler is measured against.
func bare(listen string) error {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	loc := "https://m.example-bank.cn/join?rmref_t=AQHq3mJ0c2sVz8kF1m9QAbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_AB"
	h := func(c *gin.Context) {
		c.Header("Cache-Control", "private, no-store")
		c.Redirect(http.StatusFound, loc)
	}
	r.GET("/s/:code", h)
	r.GET("/s/:code/*channel", h)
	return http.ListenAndServe(listen, r)
}

func count(ctx context.Context, dsn string) error {
	d, err := db.Open(ctx, dsn)
	if err != nil {
		return err
	}
	defer d.Close()
	var n int64
	if err := d.GetContext(ctx, &n, `SELECT COUNT(*) FROM referral_clicks`); err != nil {
		return err
	}
	fmt.Println(n)
	return nil
}

// serve runs the application as `rmref serve` does (configuration from the
// RMREF_* environment), optionally writing a CPU profile of the whole run,
// and shuts down gracefully on SIGTERM or SIGINT.
func serve(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	profile := fs.String("cpuprofile", "", "write a CPU profile to this file")
	cfg, err := config.Load(fs, args, os.Getenv)
	if err != nil {
		return err
	}
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.LogLevel))
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
	a, err := app.Open(ctx, cfg, nil, logger)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		a.Shutdown(context.Background())
		return err
	}
	if *profile != "" {
		f, err := os.Create(*profile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	errc := make(chan error, 1)
	go func() { errc <- a.Serve(ln) }()
	select {
	case err := <-errc:
		a.Shutdown(context.Background())
		return err
	case <-sig:
	}
	sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return a.Shutdown(sctx)
}
