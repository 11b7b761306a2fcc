// Package config holds rmref's one configuration struct: defaults, then
// RMREF_* environment variables, then command-line flags; validated at
// start-up, with secrets masked whenever the config is logged.
package config

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Secret is a string that never prints.
type Secret string

// String masks the secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "****"
}

// LogValue masks the secret in slog output.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Config is rmref's configuration.
type Config struct {
	DB             string        // RMREF_DB: SQLite file path or MySQL DSN
	Listen         string        // RMREF_LISTEN
	BaseURL        string        // RMREF_BASE_URL: public base URL for share links
	JWTSecret      Secret        // RMREF_JWT_SECRET (HS256)
	JWTKeyFile     string        // RMREF_JWT_KEY_FILE (RS256/ES256 PEM private key)
	JWTAlg         string        // RMREF_JWT_ALG: HS256, RS256, ES256
	JWTIssuer      string        // RMREF_JWT_ISSUER
	JWTAudience    string        // RMREF_JWT_AUDIENCE
	AccessTTL      time.Duration // RMREF_ACCESS_TTL
	RefreshTTL     time.Duration // RMREF_REFRESH_TTL
	HashKey        Secret        // RMREF_HASH_KEY: keyed hash for phone/ID numbers, client secrets
	Timezone       string        // RMREF_TIMEZONE
	Now            string        // RMREF_NOW: start a simulation clock at this instant
	Demo           bool          // RMREF_DEMO: demo mode (generated secrets allowed)
	LandingHosts   []string      // RMREF_LANDING_HOSTS: allowed landing URL hosts
	TrustedProxies []string      // RMREF_TRUSTED_PROXIES: proxy IPs/CIDRs whose X-Forwarded-For is believed
	BankLandingURL string        // RMREF_BANK_LANDING_URL: landing of general codes
	FontFile       string        // RMREF_FONT_FILE: TTF/OTF/TTC with CJK glyphs for posters
	MaxBodyBytes   int64         // RMREF_MAX_BODY_BYTES
	ClickBurst     int           // RMREF_CLICK_BURST: clicks per minute from one IP on one code before they stop counting
	LogLevel       string        // RMREF_LOG_LEVEL: debug, info, warn, error
}

// Default returns the defaults.
func Default() Config {
	return Config{
		DB:             "rmref.db",
		Listen:         ":8080",
		BaseURL:        "http://localhost:8080",
		JWTAlg:         "HS256",
		JWTIssuer:      "rmref",
		JWTAudience:    "rmref-api",
		AccessTTL:      15 * time.Minute,
		RefreshTTL:     30 * 24 * time.Hour,
		Timezone:       "Asia/Shanghai",
		LandingHosts:   []string{"m.example-bank.cn"},
		BankLandingURL: "https://m.example-bank.cn/join",
		MaxBodyBytes:   1 << 20,
		ClickBurst:     20,
		LogLevel:       "info",
	}
}

// FromEnv overrides c with RMREF_* variables found by getenv.
func (c *Config) FromEnv(getenv func(string) string) error {
	var errs []error
	str := func(name string, dst *string) {
		if v := getenv(name); v != "" {
			*dst = v
		}
	}
	sec := func(name string, dst *Secret) {
		if v := getenv(name); v != "" {
			*dst = Secret(v)
		}
	}
	dur := func(name string, dst *time.Duration) {
		if v := getenv(name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", name, err))
			}
			*dst = d
		}
	}
	str("RMREF_DB", &c.DB)
	str("RMREF_LISTEN", &c.Listen)
	str("RMREF_BASE_URL", &c.BaseURL)
	sec("RMREF_JWT_SECRET", &c.JWTSecret)
	str("RMREF_JWT_KEY_FILE", &c.JWTKeyFile)
	str("RMREF_JWT_ALG", &c.JWTAlg)
	str("RMREF_JWT_ISSUER", &c.JWTIssuer)
	str("RMREF_JWT_AUDIENCE", &c.JWTAudience)
	dur("RMREF_ACCESS_TTL", &c.AccessTTL)
	dur("RMREF_REFRESH_TTL", &c.RefreshTTL)
	sec("RMREF_HASH_KEY", &c.HashKey)
	str("RMREF_TIMEZONE", &c.Timezone)
	str("RMREF_NOW", &c.Now)
	str("RMREF_BANK_LANDING_URL", &c.BankLandingURL)
	str("RMREF_FONT_FILE", &c.FontFile)
	str("RMREF_LOG_LEVEL", &c.LogLevel)
	if v := getenv("RMREF_DEMO"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("RMREF_DEMO: %w", err))
		}
		c.Demo = b
	}
	if v := getenv("RMREF_LANDING_HOSTS"); v != "" {
		c.LandingHosts = splitList(v)
	}
	if v := getenv("RMREF_TRUSTED_PROXIES"); v != "" {
		c.TrustedProxies = splitList(v)
	}
	if v := getenv("RMREF_MAX_BODY_BYTES"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("RMREF_MAX_BODY_BYTES: %w", err))
		}
		c.MaxBodyBytes = n
	}
	if v := getenv("RMREF_CLICK_BURST"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("RMREF_CLICK_BURST: %w", err))
		}
		c.ClickBurst = n
	}
	return errors.Join(errs...)
}

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

type secretFlag struct{ s *Secret }

func (f secretFlag) String() string {
	if f.s == nil {
		return ""
	}
	return f.s.String()
}
func (f secretFlag) Set(v string) error { *f.s = Secret(v); return nil }

type listFlag struct{ l *[]string }

func (f listFlag) String() string {
	if f.l == nil {
		return ""
	}
	return strings.Join(*f.l, ",")
}
func (f listFlag) Set(v string) error { *f.l = splitList(v); return nil }

// Flags registers the config's flags on fs (call after FromEnv, so flags win).
func (c *Config) Flags(fs *flag.FlagSet) {
	fs.StringVar(&c.DB, "db", c.DB, "SQLite file path or MySQL DSN (RMREF_DB)")
	fs.StringVar(&c.Listen, "listen", c.Listen, "listen address (RMREF_LISTEN)")
	fs.StringVar(&c.BaseURL, "base-url", c.BaseURL, "public base URL (RMREF_BASE_URL)")
	fs.Var(secretFlag{&c.JWTSecret}, "jwt-secret", "HS256 signing secret (RMREF_JWT_SECRET)")
	fs.StringVar(&c.JWTKeyFile, "jwt-key-file", c.JWTKeyFile, "RS256/ES256 PEM private key (RMREF_JWT_KEY_FILE)")
	fs.StringVar(&c.JWTAlg, "jwt-alg", c.JWTAlg, "JWT algorithm: HS256, RS256, ES256 (RMREF_JWT_ALG)")
	fs.Var(secretFlag{&c.HashKey}, "hash-key", "key for hashing phone/ID numbers (RMREF_HASH_KEY)")
	fs.StringVar(&c.Timezone, "timezone", c.Timezone, "default timezone (RMREF_TIMEZONE)")
	fs.StringVar(&c.Now, "now", c.Now, "start a simulation clock at this RFC 3339 instant (RMREF_NOW)")
	fs.Var(listFlag{&c.LandingHosts}, "landing-hosts", "comma-separated allowed landing URL hosts (RMREF_LANDING_HOSTS)")
	fs.Var(listFlag{&c.TrustedProxies}, "trusted-proxies", "comma-separated proxy IPs/CIDRs whose X-Forwarded-For is believed (RMREF_TRUSTED_PROXIES)")
	fs.StringVar(&c.FontFile, "font-file", c.FontFile, "CJK font for posters (RMREF_FONT_FILE)")
	fs.IntVar(&c.ClickBurst, "click-burst", c.ClickBurst, "clicks per minute from one IP on one code before they stop counting (RMREF_CLICK_BURST)")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "debug, info, warn, error (RMREF_LOG_LEVEL)")
}

// Load applies defaults, the environment and the flags in args.
func Load(fs *flag.FlagSet, args []string, getenv func(string) string) (Config, error) {
	c := Default()
	if err := c.FromEnv(getenv); err != nil {
		return c, err
	}
	c.Flags(fs)
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	return c, nil
}

// FillDemoSecrets generates secrets that are missing, for demo mode only,
// and keeps them in a file beside a SQLite database so tokens survive a
// restart of the demo.
func (c *Config) FillDemoSecrets(dir string) error {
	if c.JWTSecret != "" && c.HashKey != "" {
		return nil
	}
	path := dir + "/.rmref-demo-secrets"
	b, err := os.ReadFile(path)
	if err != nil || len(strings.Fields(string(b))) != 2 {
		buf := make([]byte, 64)
		if _, err := rand.Read(buf); err != nil {
			return err
		}
		b = []byte(hex.EncodeToString(buf[:32]) + "\n" + hex.EncodeToString(buf[32:]) + "\n")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return fmt.Errorf("config: write demo secrets: %w", err)
		}
	}
	f := strings.Fields(string(b))
	if c.JWTSecret == "" {
		c.JWTSecret = Secret(f[0])
	}
	if c.HashKey == "" {
		c.HashKey = Secret(f[1])
	}
	return nil
}

// Validate checks the configuration; the error names every bad setting.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.DB == "" {
		bad("RMREF_DB: empty")
	}
	if c.Listen == "" {
		bad("RMREF_LISTEN: empty")
	}
	if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("RMREF_BASE_URL: %q is not an http(s) URL", c.BaseURL)
	}
	switch c.JWTAlg {
	case "HS256":
		if len(c.JWTSecret) < 32 {
			bad("RMREF_JWT_SECRET: required (at least 32 characters) outside demo mode")
		}
	case "RS256", "ES256":
		if c.JWTKeyFile == "" {
			bad("RMREF_JWT_KEY_FILE: required for %s", c.JWTAlg)
		}
	default:
		bad("RMREF_JWT_ALG: %q is not HS256, RS256 or ES256", c.JWTAlg)
	}
	if len(c.HashKey) < 16 {
		bad("RMREF_HASH_KEY: required (at least 16 characters) outside demo mode")
	}
	if _, err := time.LoadLocation(c.Timezone); err != nil {
		bad("RMREF_TIMEZONE: %v", err)
	}
	if c.Now != "" {
		if _, err := time.Parse(time.RFC3339, c.Now); err != nil {
			bad("RMREF_NOW: %q is not an RFC 3339 instant", c.Now)
		}
	}
	if c.AccessTTL < time.Minute || c.AccessTTL > 24*time.Hour {
		bad("RMREF_ACCESS_TTL: %s is outside 1m..24h", c.AccessTTL)
	}
	if c.RefreshTTL < time.Hour {
		bad("RMREF_REFRESH_TTL: %s is under 1h", c.RefreshTTL)
	}
	for _, p := range c.TrustedProxies {
		if net.ParseIP(p) == nil {
			if _, _, err := net.ParseCIDR(p); err != nil {
				bad("RMREF_TRUSTED_PROXIES: %q is not an IP address or CIDR", p)
			}
		}
	}
	if c.ClickBurst < 1 || c.ClickBurst > 100_000 {
		bad("RMREF_CLICK_BURST: %d is not from 1 to 100000", c.ClickBurst)
	}
	if c.MaxBodyBytes < 1024 {
		bad("RMREF_MAX_BODY_BYTES: %d is under 1024", c.MaxBodyBytes)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("RMREF_LOG_LEVEL: %q is not debug, info, warn or error", c.LogLevel)
	}
	return errors.Join(errs...)
}

// Location returns the default timezone.
func (c Config) Location() *time.Location {
	loc, err := time.LoadLocation(c.Timezone)
	if err != nil {
		return time.FixedZone("CST", 8*3600)
	}
	return loc
}

// LogValue lists the settings with secrets masked.
func (c Config) LogValue() slog.Value {
	db := c.DB
	if i := strings.Index(db, "@"); i > 0 {
		if j := strings.Index(db[:i], ":"); j >= 0 {
			db = db[:j+1] + "****" + db[i:]
		}
	}
	return slog.GroupValue(
		slog.String("db", db), slog.String("listen", c.Listen), slog.String("base_url", c.BaseURL),
		slog.String("jwt_alg", c.JWTAlg), slog.Any("jwt_secret", c.JWTSecret), slog.Any("hash_key", c.HashKey),
		slog.String("timezone", c.Timezone), slog.String("now", c.Now), slog.Bool("demo", c.Demo),
	)
}
