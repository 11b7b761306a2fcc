package config_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"rmref/internal/app"
	"rmref/internal/config"
)

func load(t *testing.T, env map[string]string, args ...string) (config.Config, error) {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return config.Load(fs, args, func(k string) string { return env[k] })
}

func withSecrets(env map[string]string) map[string]string {
	out := map[string]string{
		"RMREF_JWT_SECRET": "0123456789abcdef0123456789abcdef-jwt",
		"RMREF_HASH_KEY":   "0123456789abcdef-hash",
	}
	for k, v := range env {
		out[k] = v
	}
	return out
}

// TestNoSecretsRefused: outside demo mode, start-up without secrets is
// refused with a message naming the variables to set.
func TestNoSecretsRefused(t *testing.T) {
	cfg, err := load(t, map[string]string{"RMREF_DB": filepath.Join(t.TempDir(), "x.db")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = app.Open(context.Background(), cfg, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil {
		t.Fatal("app started without secrets")
	}
	for _, name := range []string{"RMREF_JWT_SECRET", "RMREF_HASH_KEY"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not name %s", err, name)
		}
	}
	cfg.JWTAlg = "RS256"
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "RMREF_JWT_KEY_FILE") {
		t.Errorf("RS256 without key file: %v", err)
	}
}

// TestDemoSecrets: demo mode generates the missing secrets once and keeps
// them for the next start.
func TestDemoSecrets(t *testing.T) {
	dir := t.TempDir()
	cfg := config.Default()
	cfg.Demo = true
	if err := cfg.FillDemoSecrets(dir); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("demo config invalid: %v", err)
	}
	again := config.Default()
	if err := again.FillDemoSecrets(dir); err != nil {
		t.Fatal(err)
	}
	if again.JWTSecret != cfg.JWTSecret || again.HashKey != cfg.HashKey {
		t.Error("demo secrets changed between starts")
	}
}

// TestLogValueMasksSecrets: neither secret nor the database password
// appears in JSON log output or in %+v formatting.
func TestLogValueMasksSecrets(t *testing.T) {
	const jwtSecret, hashKey, dbPass = "jwt-SECRET-value-that-must-not-leak!", "hash-KEY-value-never-logged", "dbPa55word"
	cfg, err := load(t, map[string]string{
		"RMREF_JWT_SECRET": jwtSecret, "RMREF_HASH_KEY": hashKey,
		"RMREF_DB": "rmref:" + dbPass + "@tcp(127.0.0.1:3306)/rmref",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	logger.Info("starting", "config", cfg, "secret", cfg.JWTSecret)
	for _, s := range []string{jwtSecret, hashKey, dbPass} {
		if strings.Contains(buf.String(), s) {
			t.Errorf("log leaks %q:\n%s", s, buf.String())
		}
	}
	// Secret fields also mask under fmt (the DSN is only masked by LogValue).
	out := fmt.Sprintf("%v %+v %s", cfg, cfg, cfg.HashKey)
	for _, s := range []string{jwtSecret, hashKey} {
		if strings.Contains(out, s) {
			t.Errorf("fmt leaks %q:\n%s", s, out)
		}
	}
	for _, want := range []string{`"jwt_secret":"****"`, `"hash_key":"****"`, `rmref:****@tcp`} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, buf.String())
		}
	}
}

// TestBadValuesStopStartup: each bad setting is refused, naming its variable.
func TestBadValuesStopStartup(t *testing.T) {
	cases := map[string]struct {
		env  map[string]string
		args []string
		name string
	}{
		"timezone":         {env: map[string]string{"RMREF_TIMEZONE": "Mars/Olympus_Mons"}, name: "RMREF_TIMEZONE"},
		"now":              {env: map[string]string{"RMREF_NOW": "yesterday at noon"}, name: "RMREF_NOW"},
		"now without zone": {env: map[string]string{"RMREF_NOW": "2026-11-02T10:00:00"}, name: "RMREF_NOW"},
		"now flag":         {args: []string{"--now", "2026-13-40T00:00:00Z"}, name: "RMREF_NOW"},
		"timezone flag":    {args: []string{"--timezone", "Nowhere/Land"}, name: "RMREF_TIMEZONE"},
		"alg":              {env: map[string]string{"RMREF_JWT_ALG": "none"}, name: "RMREF_JWT_ALG"},
		"short secret":     {env: map[string]string{"RMREF_JWT_SECRET": "short"}, name: "RMREF_JWT_SECRET"},
		"short hash key":   {env: map[string]string{"RMREF_HASH_KEY": "short"}, name: "RMREF_HASH_KEY"},
		"access ttl":       {env: map[string]string{"RMREF_ACCESS_TTL": "48h"}, name: "RMREF_ACCESS_TTL"},
		"base url":         {env: map[string]string{"RMREF_BASE_URL": "ftp://example.com"}, name: "RMREF_BASE_URL"},
		"log level":        {env: map[string]string{"RMREF_LOG_LEVEL": "loud"}, name: "RMREF_LOG_LEVEL"},
		"body limit":       {env: map[string]string{"RMREF_MAX_BODY_BYTES": "12"}, name: "RMREF_MAX_BODY_BYTES"},
		"click burst":      {env: map[string]string{"RMREF_CLICK_BURST": "0"}, name: "RMREF_CLICK_BURST"},
		"click burst flag": {args: []string{"--click-burst", "-3"}, name: "RMREF_CLICK_BURST"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			cfg, err := load(t, withSecrets(tc.env), tc.args...)
			if err == nil {
				err = cfg.Validate()
			}
			if err == nil || !strings.Contains(err.Error(), tc.name) {
				t.Fatalf("error = %v, want one naming %s", err, tc.name)
			}
		})
	}
	for name, env := range map[string]map[string]string{
		"unparsable ttl":   {"RMREF_ACCESS_TTL": "forever"},
		"unparsable demo":  {"RMREF_DEMO": "maybe"},
		"unparsable size":  {"RMREF_MAX_BODY_BYTES": "1MB"},
		"unparsable burst": {"RMREF_CLICK_BURST": "lots"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := load(t, withSecrets(env)); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

// TestGoodConfig: defaults plus secrets are valid; flags override the
// environment, which overrides defaults; the start clock follows RMREF_NOW.
func TestGoodConfig(t *testing.T) {
	cfg, err := load(t, withSecrets(map[string]string{"RMREF_TIMEZONE": "Asia/Hong_Kong", "RMREF_LISTEN": ":9000", "RMREF_NOW": "2026-11-02T10:00:00+08:00"}), "--listen", ":9100")
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("valid config refused: %v", err)
	}
	if cfg.Listen != ":9100" || cfg.Timezone != "Asia/Hong_Kong" || cfg.Location().String() != "Asia/Hong_Kong" {
		t.Errorf("cfg = %+v", cfg)
	}
	clk, err := app.NewClock(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := clk.Now(), time.Date(2026, 11, 2, 2, 0, 0, 0, time.UTC); got.Before(want) || got.Sub(want) > time.Minute {
		t.Errorf("clock starts at %v, want about %v", got, want)
	}
}
