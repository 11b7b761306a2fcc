package server_test

import (
	"net/http"
	"strconv"
	"testing"

	"rmref/internal/auth"
	"rmref/internal/testapp"
)

// BenchmarkLogin: one sign-in end to end (bcrypt at the default cost
// dominates by design).
func BenchmarkLogin(b *testing.B) {
	a := testapp.Start(b, "sqlite", testapp.Options{})
	s := a.Seed()
	id := s.Staff("E1001", "王小明", s.Unit("hq", "HQ", "总行", 0))
	h, err := auth.HashPassword("benchmark-password", 0) // the production cost
	if err != nil {
		b.Fatal(err)
	}
	if _, err := a.DB.Exec(`UPDATE staff SET password_hash = ? WHERE id = ?`, h, id); err != nil {
		b.Fatal(err)
	}
	body := map[string]string{"employee_no": "E1001", "password": "benchmark-password"}
	for b.Loop() {
		if res := a.Do("POST", "/api/v1/auth/login", "", body); res.Status != http.StatusOK {
			b.Fatalf("login: %d %s", res.Status, res.Body)
		}
	}
}

// BenchmarkMe: a bearer-authenticated read (JWT verify + principal load).
func BenchmarkMe(b *testing.B) {
	a := testapp.Start(b, "sqlite", testapp.Options{})
	s := a.Seed()
	tok := a.Token(s.Staff("E1001", "王小明", s.Unit("hq", "HQ", "总行", 0)))
	for b.Loop() {
		if res := a.Do("GET", "/api/v1/me", tok, nil); res.Status != http.StatusOK {
			b.Fatalf("me: %d", res.Status)
		}
	}
}

// BenchmarkSignedRequest: a signed service-client request (signature check
// and replay record).
func BenchmarkSignedRequest(b *testing.B) {
	a := testapp.Start(b, "sqlite", testapp.Options{})
	key, secret := a.Client("bench", "events:write")
	i := 0
	for b.Loop() {
		i++
		if res := a.DoSigned("GET", "/api/v1/clients/whoami?n="+strconv.Itoa(i), key, secret, nil); res.Status != http.StatusOK {
			b.Fatalf("whoami: %d %s", res.Status, res.Body)
		}
	}
}
