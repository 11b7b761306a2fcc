package server_test

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"rmref/internal/testapp"
)

type activation struct {
	StaffID    string    `json:"staff_id"`
	EmployeeNo string    `json:"employee_no"`
	Code       string    `json:"code"`
	ExpiresAt  time.Time `json:"expires_at"`
}

func issueActivation(t *testing.T, a *testapp.App, adminToken string, staffID int64) activation {
	t.Helper()
	res := a.Do("POST", fmt.Sprintf("/api/v1/staff/%d/activation", staffID), adminToken, nil)
	wantStatus(t, res, http.StatusCreated)
	var act activation
	res.JSON(t, &act)
	return act
}

func activate(a *testapp.App, emp, code, password string) testapp.Response {
	return a.Do("POST", "/api/v1/auth/activate", "", map[string]string{"employee_no": emp, "code": code, "password": password})
}

// TestActivation: an hq_admin issues a code valid 72 hours; the staff
// member sets a password with it once; password rules are enforced.
func TestActivation(t *testing.T) {
	testapp.Each(t, testapp.Options{}, func(t *testing.T, a *testapp.App) {
		o := seedAuthOrg(t, a)
		admin := a.Token(o.Admin)
		act := issueActivation(t, a, admin, o.Staff)
		if act.EmployeeNo != "E1001" || len(act.Code) != 19 || !act.ExpiresAt.Equal(a.Clock.Now().Add(72*time.Hour)) {
			t.Fatalf("activation = %+v", act)
		}
		wantProblem(t, activate(a, "E1001", "AAAA-BBBB-CCCC-DDDD", "long enough pass"), http.StatusUnauthorized, "invalid_activation_code")
		rules := map[string]string{"short": "nine char", "contains employee no": "my-e1001-password"}
		for name, p := range rules {
			res := activate(a, "E1001", act.Code, p)
			wantProblem(t, res, http.StatusBadRequest, "invalid")
			if f := res.Map(t)["errors"].([]any)[0].(map[string]any)["field"]; f != "password" {
				t.Errorf("%s: field = %v, want password", name, f)
			}
		}
		wantProblem(t, tryLogin(a, "E1001", "long enough pass"), http.StatusUnauthorized, "invalid_credentials")
		// Codes are forgiving about case and dashes.
		wantStatus(t, activate(a, "E1001", strings.ToLower(strings.ReplaceAll(act.Code, "-", "")), "long enough pass"), http.StatusNoContent)
		login(t, a, "E1001", "long enough pass")
		wantProblem(t, activate(a, "E1001", act.Code, "another long pass"), http.StatusUnauthorized, "invalid_activation_code")
		login(t, a, "E1001", "long enough pass")
		got := auditActions(t, a, "staff", strconv.FormatInt(o.Staff, 10))
		if diff := cmp.Diff([]string{"staff.activation_issue", "staff.password_set"}, got); diff != "" {
			t.Errorf("audit (-want +got):\n%s", diff)
		}
	})
}

// TestActivationExpiryAndReplacement: a code works until 72 hours, not at
// 72 hours; a newer code replaces an older unused one; a code belongs to
// one employee.
func TestActivationExpiryAndReplacement(t *testing.T) {
	testapp.Each(t, testapp.Options{}, func(t *testing.T, a *testapp.App) {
		o := seedAuthOrg(t, a)
		admin := a.Token(o.Admin)
		old := issueActivation(t, a, admin, o.Staff)
		a.Clock.Advance(72 * time.Hour)
		wantProblem(t, activate(a, "E1001", old.Code, "long enough pass"), http.StatusUnauthorized, "invalid_activation_code")

		admin = a.Token(o.Admin) // the first one expired with the clock
		first := issueActivation(t, a, admin, o.Staff)
		second := issueActivation(t, a, admin, o.Staff)
		wantProblem(t, activate(a, "E1001", first.Code, "long enough pass"), http.StatusUnauthorized, "invalid_activation_code")
		wantProblem(t, activate(a, "E2001", second.Code, "long enough pass"), http.StatusUnauthorized, "invalid_activation_code")
		a.Clock.Advance(72*time.Hour - time.Second)
		wantStatus(t, activate(a, "E1001", second.Code, "long enough pass"), http.StatusNoContent)
	})
}

// TestActivationEndsSessions: setting a password with a new code signs the
// staff member out everywhere.
func TestActivationEndsSessions(t *testing.T) {
	testapp.Each(t, testapp.Options{}, func(t *testing.T, a *testapp.App) {
		o := seedAuthOrg(t, a)
		setPassword(t, a, o.Staff, pw)
		s := login(t, a, "E1001", pw)
		act := issueActivation(t, a, a.Token(o.Admin), o.Staff)
		wantStatus(t, activate(a, "E1001", act.Code, "a brand new pass"), http.StatusNoContent)
		wantProblem(t, refresh(a, s.RefreshToken), http.StatusUnauthorized, "invalid_refresh_token")
		wantProblem(t, a.Do("GET", "/api/v1/me", s.AccessToken, nil), http.StatusUnauthorized, "")
		wantProblem(t, tryLogin(a, "E1001", pw), http.StatusUnauthorized, "invalid_credentials")
	})
}

// TestActivationAccess: only hq_admin issues codes; unknown staff is 404;
// staff who left get no code and cannot use one.
func TestActivationAccess(t *testing.T) {
	testapp.Each(t, testapp.Options{}, func(t *testing.T, a *testapp.App) {
		o := seedAuthOrg(t, a)
		path := fmt.Sprintf("/api/v1/staff/%d/activation", o.Staff)
		wantProblem(t, a.Do("POST", path, a.Token(o.Manager), nil), http.StatusForbidden, "forbidden")
		wantProblem(t, a.Do("POST", path, a.Token(o.Auditor), nil), http.StatusForbidden, "forbidden")
		wantProblem(t, a.Do("POST", path, "", nil), http.StatusUnauthorized, "missing_token")
		admin := a.Token(o.Admin)
		wantProblem(t, a.Do("POST", "/api/v1/staff/99999/activation", admin, nil), http.StatusNotFound, "not_found")
		act := issueActivation(t, a, admin, o.Staff)
		if _, err := a.DB.Exec(`UPDATE staff SET status = 'left' WHERE id = ?`, o.Staff); err != nil {
			t.Fatal(err)
		}
		wantProblem(t, activate(a, "E1001", act.Code, "long enough pass"), http.StatusUnauthorized, "invalid_activation_code")
		wantProblem(t, a.Do("POST", path, admin, nil), http.StatusConflict, "staff_left")
		if got := auditActions(t, a, "staff", strconv.FormatInt(o.Staff, 10)); !slices.Equal(got, []string{"staff.activation_issue"}) {
			t.Errorf("audit = %v", got)
		}
	})
}

// TestMe: the caller's own record, phone masked, unit, chain and roles.
func TestMe(t *testing.T) {
	testapp.Each(t, testapp.Options{}, func(t *testing.T, a *testapp.App) {
		o := seedAuthOrg(t, a)
		if _, err := a.DB.Exec(`UPDATE staff SET phone_masked = '138****5678', phone_hash = 'h' WHERE id = ?`, o.Manager); err != nil {
			t.Fatal(err)
		}
		res := a.Do("GET", "/api/v1/me", a.Token(o.Manager), nil)
		wantStatus(t, res, http.StatusOK)
		var me struct {
			ID          string   `json:"id"`
			EmployeeNo  string   `json:"employee_no"`
			PhoneMasked string   `json:"phone_masked"`
			Roles       []string `json:"roles"`
			Unit        struct{ Name, Kind string }
			Chain       []struct{ ID, Name, Kind string }
		}
		res.JSON(t, &me)
		if me.ID != strconv.FormatInt(o.Manager, 10) || me.EmployeeNo != "E2001" || me.PhoneMasked != "138****5678" || me.Unit.Name != "上海分行" {
			t.Errorf("me = %s", res.Body)
		}
		if diff := cmp.Diff([]string{"staff", "manager"}, me.Roles); diff != "" {
			t.Errorf("roles (-want +got):\n%s", diff)
		}
		var chain []string
		for _, u := range me.Chain {
			chain = append(chain, u.Kind+":"+u.Name)
		}
		if diff := cmp.Diff([]string{"hq:总行", "region:华东区", "branch:上海分行"}, chain); diff != "" {
			t.Errorf("chain (-want +got):\n%s", diff)
		}
		if strings.Contains(string(res.Body), `"h"`) {
			t.Errorf("phone hash leaked: %s", res.Body)
		}
	})
}
