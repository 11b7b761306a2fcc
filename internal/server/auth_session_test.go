package server_test

import (
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"rmref/internal/testapp"
)

const pw = "correct horse battery"

// TestRefreshRotationAndReuse: refresh rotates the token; presenting the
// spent token again revokes its whole family, and only that family.
func TestRefreshRotationAndReuse(t *testing.T) {
	testapp.Each(t, testapp.Options{}, func(t *testing.T, a *testapp.App) {
		o := seedAuthOrg(t, a)
		setPassword(t, a, o.Staff, pw)
		s1 := login(t, a, "E1001", pw)
		other := login(t, a, "E1001", pw) // a second device: its own family
		wantStatus(t, a.Do("GET", "/api/v1/me", s1.AccessToken, nil), http.StatusOK)

		a.Clock.Advance(time.Minute)
		res := refresh(a, s1.RefreshToken)
		wantStatus(t, res, http.StatusOK)
		var s2 session
		res.JSON(t, &s2)
		if s2.RefreshToken == s1.RefreshToken || s2.AccessToken == s1.AccessToken {
			t.Fatalf("refresh did not rotate: %s", res.Body)
		}
		wantStatus(t, a.Do("GET", "/api/v1/me", s2.AccessToken, nil), http.StatusOK)

		wantProblem(t, refresh(a, s1.RefreshToken), http.StatusUnauthorized, "refresh_token_reused")
		wantProblem(t, refresh(a, s2.RefreshToken), http.StatusUnauthorized, "invalid_refresh_token")
		wantStatus(t, refresh(a, other.RefreshToken), http.StatusOK)

		wantProblem(t, refresh(a, "rt_made-up"), http.StatusUnauthorized, "invalid_refresh_token")
		wantProblem(t, refresh(a, ""), http.StatusBadRequest, "invalid")
		if got := auditActions(t, a, "staff", strconv.FormatInt(o.Staff, 10)); !slices.Contains(got, "session.reuse_revoke") {
			t.Errorf("audit = %v, want session.reuse_revoke", got)
		}
	})
}

// TestRefreshExpiry: a refresh token past its lifetime is refused.
func TestRefreshExpiry(t *testing.T) {
	testapp.Each(t, testapp.Options{}, func(t *testing.T, a *testapp.App) {
		o := seedAuthOrg(t, a)
		setPassword(t, a, o.Staff, pw)
		s := login(t, a, "E1001", pw)
		a.Clock.Advance(a.Config.RefreshTTL + time.Second)
		wantProblem(t, refresh(a, s.RefreshToken), http.StatusUnauthorized, "invalid_refresh_token")
	})
}

// TestLogout: logout ends one family; logout with all ends every session,
// access tokens included, and is audited.
func TestLogout(t *testing.T) {
	testapp.Each(t, testapp.Options{}, func(t *testing.T, a *testapp.App) {
		o := seedAuthOrg(t, a)
		setPassword(t, a, o.Staff, pw)
		s1, s2, s3 := login(t, a, "E1001", pw), login(t, a, "E1001", pw), login(t, a, "E1001", pw)
		wantStatus(t, a.Do("POST", "/api/v1/auth/logout", "", map[string]any{"refresh_token": s1.RefreshToken}), http.StatusNoContent)
		wantProblem(t, refresh(a, s1.RefreshToken), http.StatusUnauthorized, "invalid_refresh_token")
		res := refresh(a, s2.RefreshToken)
		wantStatus(t, res, http.StatusOK)
		var s2b session
		res.JSON(t, &s2b)

		wantStatus(t, a.Do("POST", "/api/v1/auth/logout", "", map[string]any{"refresh_token": s3.RefreshToken, "all": true}), http.StatusNoContent)
		wantProblem(t, refresh(a, s2b.RefreshToken), http.StatusUnauthorized, "invalid_refresh_token")
		wantProblem(t, a.Do("GET", "/api/v1/me", s2b.AccessToken, nil), http.StatusUnauthorized, "")
		if got := auditActions(t, a, "staff", strconv.FormatInt(o.Staff, 10)); !slices.Equal(got, []string{"staff.logout_all"}) {
			t.Errorf("audit = %v, want [staff.logout_all]", got)
		}
		wantStatus(t, a.Do("GET", "/api/v1/me", login(t, a, "E1001", pw).AccessToken, nil), http.StatusOK)
		wantProblem(t, a.Do("POST", "/api/v1/auth/logout", "", map[string]any{"refresh_token": "rt_nope"}), http.StatusUnauthorized, "invalid_refresh_token")
	})
}

func tryLogin(a *testapp.App, emp, password string) testapp.Response {
	return a.Do("POST", "/api/v1/auth/login", "", map[string]string{"employee_no": emp, "password": password})
}

// TestLoginLockout: five failures within 15 minutes lock the account for
// 15 minutes (429 with Retry-After), even for the right password; the lock
// ends after 15 minutes; failures spread wider than the window do not lock.
func TestLoginLockout(t *testing.T) {
	testapp.Each(t, testapp.Options{}, func(t *testing.T, a *testapp.App) {
		o := seedAuthOrg(t, a)
		setPassword(t, a, o.Staff, pw)
		for i := 0; i < 4; i++ {
			wantProblem(t, tryLogin(a, "E1001", "wrong password!"), http.StatusUnauthorized, "invalid_credentials")
			a.Clock.Advance(time.Minute)
		}
		res := tryLogin(a, "E1001", "wrong password!")
		wantProblem(t, res, http.StatusTooManyRequests, "account_locked")
		if ra := res.Header.Get("Retry-After"); ra != "900" {
			t.Errorf("Retry-After = %q, want 900", ra)
		}
		a.Clock.Advance(14 * time.Minute)
		res = tryLogin(a, "E1001", pw)
		wantProblem(t, res, http.StatusTooManyRequests, "account_locked")
		if ra := res.Header.Get("Retry-After"); ra != "60" {
			t.Errorf("Retry-After = %q, want 60", ra)
		}
		wantStatus(t, tryLogin(a, "E1002", pw), http.StatusUnauthorized) // other accounts unaffected
		a.Clock.Advance(time.Minute)
		login(t, a, "E1001", pw)

		// Four failures, a pause past the window, four more: never five in 15 minutes.
		for round := 0; round < 2; round++ {
			for i := 0; i < 4; i++ {
				wantProblem(t, tryLogin(a, "E1001", "wrong password!"), http.StatusUnauthorized, "invalid_credentials")
			}
			a.Clock.Advance(16 * time.Minute)
		}
		login(t, a, "E1001", pw)
	})
}

// TestLoginRefusals: unknown employee, no password yet, wrong password
// and left staff all get the same 401; left staff cannot refresh either.
func TestLoginRefusals(t *testing.T) {
	testapp.Each(t, testapp.Options{}, func(t *testing.T, a *testapp.App) {
		o := seedAuthOrg(t, a)
		setPassword(t, a, o.Staff, pw)
		s := login(t, a, "E1001", pw)
		wantProblem(t, tryLogin(a, "E0000", pw), http.StatusUnauthorized, "invalid_credentials")
		wantProblem(t, tryLogin(a, "E2001", pw), http.StatusUnauthorized, "invalid_credentials") // no password set
		res := a.Do("POST", "/api/v1/auth/login", "", map[string]string{})
		wantProblem(t, res, http.StatusBadRequest, "invalid")
		if n := len(res.Map(t)["errors"].([]any)); n != 2 {
			t.Errorf("field errors = %d, want 2: %s", n, res.Body)
		}

		// Leaving as the org store does it: status and token version.
		if _, err := a.DB.Exec(`UPDATE staff SET status = 'left', token_version = token_version + 1 WHERE id = ?`, o.Staff); err != nil {
			t.Fatal(err)
		}
		wantProblem(t, tryLogin(a, "E1001", pw), http.StatusUnauthorized, "invalid_credentials")
		wantProblem(t, refresh(a, s.RefreshToken), http.StatusUnauthorized, "invalid_refresh_token")
		wantProblem(t, a.Do("GET", "/api/v1/me", s.AccessToken, nil), http.StatusUnauthorized, "")
	})
}
