package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sync"
	"testing"

	"rmref/internal/testapp"
)

// postConcurrently sends n identical JSON POSTs at once and returns the
// status codes (0 for a transport error).
func postConcurrently(a *testapp.App, path string, body any, n int) []int {
	b, _ := json.Marshal(body)
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			res, err := a.HTTP.Post(a.URL+path, "application/json", bytes.NewReader(b))
			if err != nil {
				return
			}
			res.Body.Close()
			codes[i] = res.StatusCode
		})
	}
	wg.Wait()
	return codes
}

func count(codes []int, code int) int {
	n := 0
	for _, c := range codes {
		if c == code {
			n++
		}
	}
	return n
}

// TestConcurrentRefresh: the same refresh token sent several times at once
// rotates exactly once; the other attempts are reuse, which revokes the
// family, so even the winner's new token is dead.
func TestConcurrentRefresh(t *testing.T) {
	testapp.Each(t, testapp.Options{}, func(t *testing.T, a *testapp.App) {
		o := seedAuthOrg(t, a)
		setPassword(t, a, o.Staff, pw)
		s := login(t, a, "E1001", pw)
		codes := postConcurrently(a, "/api/v1/auth/refresh", map[string]string{"refresh_token": s.RefreshToken}, 6)
		if count(codes, http.StatusOK) != 1 || count(codes, http.StatusUnauthorized) != 5 {
			t.Fatalf("statuses = %v, want one 200 and five 401", codes)
		}
		var live int
		if err := a.DB.Get(&live, `SELECT COUNT(*) FROM refresh_tokens WHERE staff_id = ? AND revoked_at IS NULL`, o.Staff); err != nil {
			t.Fatal(err)
		}
		if live != 0 {
			t.Errorf("%d refresh tokens still live after reuse", live)
		}
	})
}

// TestConcurrentFailures: failed sign-ins at once are all counted (no
// server errors, no uncounted guesses) and lock the account.
func TestConcurrentFailures(t *testing.T) {
	testapp.Each(t, testapp.Options{}, func(t *testing.T, a *testapp.App) {
		o := seedAuthOrg(t, a)
		setPassword(t, a, o.Staff, pw)
		codes := postConcurrently(a, "/api/v1/auth/login", map[string]string{"employee_no": "E1001", "password": "guess guess guess"}, 8)
		if count(codes, http.StatusUnauthorized)+count(codes, http.StatusTooManyRequests) != 8 || count(codes, http.StatusTooManyRequests) < 4 {
			t.Fatalf("statuses = %v, want only 401/429 with at least four 429", codes)
		}
		wantProblem(t, tryLogin(a, "E1001", pw), http.StatusTooManyRequests, "account_locked")
	})
}
