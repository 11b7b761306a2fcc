package server_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"rmref/internal/auth"
	"rmref/internal/config"
	"rmref/internal/testapp"
)

// claimsFor builds valid claims for staff id at now; cases then spoil one.
func claimsFor(a *testapp.App, id int64, now time.Time) auth.Claims {
	return auth.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: a.Config.JWTIssuer, Subject: strconv.FormatInt(id, 10), Audience: jwt.ClaimStrings{a.Config.JWTAudience},
			ExpiresAt: jwt.NewNumericDate(now.Add(10 * time.Minute)), NotBefore: jwt.NewNumericDate(now), IssuedAt: jwt.NewNumericDate(now),
		},
		EmployeeNo: "E1001",
	}
}

func signHS(t *testing.T, c auth.Claims, key []byte) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestJWTTampering(t *testing.T) {
	testapp.Each(t, testapp.Options{}, func(t *testing.T, a *testapp.App) {
		o := seedAuthOrg(t, a)
		now := a.Clock.Now()
		key := []byte(a.Config.JWTSecret)
		valid := signHS(t, claimsFor(a, o.Staff, now), key)
		wantStatus(t, a.Do("GET", "/api/v1/me", valid, nil), http.StatusOK)

		none, err := jwt.NewWithClaims(jwt.SigningMethodNone, claimsFor(a, o.Staff, now)).SignedString(jwt.UnsafeAllowNoneSignatureType)
		if err != nil {
			t.Fatal(err)
		}
		spoil := func(f func(*auth.Claims)) string {
			c := claimsFor(a, o.Staff, now)
			f(&c)
			return signHS(t, c, key)
		}
		cases := map[string]string{
			"alg none":       none,
			"wrong key":      signHS(t, claimsFor(a, o.Staff, now), []byte("another-secret-another-secret-0123456")),
			"wrong audience": spoil(func(c *auth.Claims) { c.Audience = jwt.ClaimStrings{"someone-else"} }),
			"wrong issuer":   spoil(func(c *auth.Claims) { c.Issuer = "evil" }),
			"expired":        spoil(func(c *auth.Claims) { c.ExpiresAt = jwt.NewNumericDate(now.Add(-2 * time.Minute)) }),
			"no expiry":      spoil(func(c *auth.Claims) { c.ExpiresAt = nil }),
			"nbf in future":  spoil(func(c *auth.Claims) { c.NotBefore = jwt.NewNumericDate(now.Add(5 * time.Minute)) }),
			"bad subject":    spoil(func(c *auth.Claims) { c.Subject = "x" }),
			"garbage":        "not.a.jwt",
			"truncated":      valid[:len(valid)-4],
		}
		for name, tok := range cases {
			t.Run(name, func(t *testing.T) {
				wantProblem(t, a.Do("GET", "/api/v1/me", tok, nil), http.StatusUnauthorized, "invalid_token")
			})
		}
		wantProblem(t, a.Do("GET", "/api/v1/me", "", nil), http.StatusUnauthorized, "missing_token")
	})
}

// TestJWTStaleVersion: bumping token_version (leaving, logout everywhere)
// kills existing access tokens.
func TestJWTStaleVersion(t *testing.T) {
	testapp.Each(t, testapp.Options{}, func(t *testing.T, a *testapp.App) {
		o := seedAuthOrg(t, a)
		tok := a.Token(o.Staff)
		wantStatus(t, a.Do("GET", "/api/v1/me", tok, nil), http.StatusOK)
		if _, err := a.DB.Exec(`UPDATE staff SET token_version = token_version + 1 WHERE id = ?`, o.Staff); err != nil {
			t.Fatal(err)
		}
		wantProblem(t, a.Do("GET", "/api/v1/me", tok, nil), http.StatusUnauthorized, "")
	})
}

func writePEM(t *testing.T, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestJWTKeyFiles: RS256 and ES256 servers sign and verify with their key
// file, and refuse an HS256 token (the algorithm is pinned), including one
// "signed" with the public key as HMAC secret (algorithm confusion).
func TestJWTKeyFiles(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, _ := x509.MarshalECPrivateKey(ecKey)
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(rsaKey)
	rsaPub, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	ecPub, _ := x509.MarshalPKIXPublicKey(&ecKey.PublicKey)
	cases := []struct {
		alg, typ string
		der, pub []byte
	}{
		{"RS256", "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey), rsaPub},
		{"RS256", "PRIVATE KEY", pkcs8, rsaPub},
		{"ES256", "EC PRIVATE KEY", ecDER, ecPub},
	}
	for _, tc := range cases {
		t.Run(tc.alg+" "+tc.typ, func(t *testing.T) {
			keyFile := writePEM(t, tc.typ, tc.der)
			opts := testapp.Options{Config: func(c *config.Config) { c.JWTAlg, c.JWTKeyFile = tc.alg, keyFile }}
			testapp.Each(t, opts, func(t *testing.T, a *testapp.App) {
				o := seedAuthOrg(t, a)
				setPassword(t, a, o.Staff, "correct horse battery")
				s := login(t, a, "E1001", "correct horse battery")
				tok, _, _ := jwt.NewParser().ParseUnverified(s.AccessToken, &auth.Claims{})
				if tok.Method.Alg() != tc.alg {
					t.Fatalf("issued alg = %s, want %s", tok.Method.Alg(), tc.alg)
				}
				wantStatus(t, a.Do("GET", "/api/v1/me", s.AccessToken, nil), http.StatusOK)
				now := a.Clock.Now()
				hs := signHS(t, claimsFor(a, o.Staff, now), []byte(a.Config.JWTSecret))
				wantProblem(t, a.Do("GET", "/api/v1/me", hs, nil), http.StatusUnauthorized, "invalid_token")
				confused := signHS(t, claimsFor(a, o.Staff, now), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: tc.pub}))
				wantProblem(t, a.Do("GET", "/api/v1/me", confused, nil), http.StatusUnauthorized, "invalid_token")
			})
		})
	}
}
