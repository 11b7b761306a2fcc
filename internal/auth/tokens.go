package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"rmref/internal/apperr"
	"rmref/internal/clock"
)

// TokenConfig configures access tokens.
type TokenConfig struct {
	Alg      string // HS256 (default), RS256 or ES256
	Secret   []byte // for HS256
	KeyFile  string // PEM private key for RS256/ES256
	Issuer   string
	Audience string
	TTL      time.Duration
	Leeway   time.Duration
}

// Claims are an access token's claims. Ver is the staff member's token
// version: bumping it (logout everywhere, leaving) kills every token.
type Claims struct {
	jwt.RegisteredClaims
	EmployeeNo string `json:"emp"`
	Ver        int64  `json:"ver"`
}

// Tokens issues and verifies access tokens with one pinned algorithm.
type Tokens struct {
	cfg    TokenConfig
	method jwt.SigningMethod
	sign   crypto.PrivateKey
	verify crypto.PublicKey
	clock  clock.Clock
}

// NewTokens validates cfg and loads the key.
func NewTokens(cfg TokenConfig, clk clock.Clock) (*Tokens, error) {
	if cfg.Alg == "" {
		cfg.Alg = "HS256"
	}
	if cfg.TTL <= 0 {
		cfg.TTL = 15 * time.Minute
	}
	t := &Tokens{cfg: cfg, clock: clk}
	switch cfg.Alg {
	case "HS256":
		if len(cfg.Secret) < 32 {
			return nil, errors.New("auth: HS256 secret must be at least 32 bytes")
		}
		t.method, t.sign, t.verify = jwt.SigningMethodHS256, cfg.Secret, cfg.Secret
	case "RS256", "ES256":
		pem, err := os.ReadFile(cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("auth: read key file: %w", err)
		}
		if err := t.loadKey(pem); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("auth: unsupported JWT algorithm %q", cfg.Alg)
	}
	return t, nil
}

func (t *Tokens) loadKey(pem []byte) error {
	if t.cfg.Alg == "RS256" {
		k, err := jwt.ParseRSAPrivateKeyFromPEM(pem)
		if err != nil {
			return fmt.Errorf("auth: RS256 key: %w", err)
		}
		t.method, t.sign, t.verify = jwt.SigningMethodRS256, k, &k.PublicKey
		return nil
	}
	k, err := jwt.ParseECPrivateKeyFromPEM(pem)
	if err != nil {
		return fmt.Errorf("auth: ES256 key: %w", err)
	}
	t.method, t.sign, t.verify = jwt.SigningMethodES256, k, &k.PublicKey
	return nil
}

// TTL returns the access token lifetime.
func (t *Tokens) TTL() time.Duration { return t.cfg.TTL }

// Issue returns a signed access token for a staff member and its expiry.
func (t *Tokens) Issue(staffID int64, employeeNo string, ver int64) (string, time.Time, error) {
	now := t.clock.Now()
	exp := now.Add(t.cfg.TTL)
	c := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    t.cfg.Issuer,
			Subject:   strconv.FormatInt(staffID, 10),
			Audience:  jwt.ClaimStrings{t.cfg.Audience},
			ExpiresAt: jwt.NewNumericDate(exp),
			NotBefore: jwt.NewNumericDate(now),
			IssuedAt:  jwt.NewNumericDate(now),
		},
		EmployeeNo: employeeNo,
		Ver:        ver,
	}
	s, err := jwt.NewWithClaims(t.method, c).SignedString(t.sign)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("auth: sign token: %w", err)
	}
	return s, exp, nil
}

// Verify checks a token's signature (with the pinned algorithm only), issuer,
// audience, expiry and not-before, and returns its staff id and claims.
func (t *Tokens) Verify(token string) (int64, Claims, error) {
	var c Claims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return t.verify, nil },
		jwt.WithValidMethods([]string{t.method.Alg()}),
		jwt.WithIssuer(t.cfg.Issuer),
		jwt.WithAudience(t.cfg.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(t.cfg.Leeway),
		jwt.WithTimeFunc(t.clock.Now),
	)
	if err != nil {
		return 0, Claims{}, &apperr.Error{Kind: apperr.Unauthorized, Type: "invalid_token", Detail: "invalid or expired access token", Err: err}
	}
	id, err := strconv.ParseInt(c.Subject, 10, 64)
	if err != nil || id <= 0 {
		return 0, Claims{}, apperr.New(apperr.Unauthorized, "invalid_token", "invalid access token subject")
	}
	return id, c, nil
}

var (
	_ crypto.PublicKey = (*rsa.PublicKey)(nil)
	_ crypto.PublicKey = (*ecdsa.PublicKey)(nil)
)
