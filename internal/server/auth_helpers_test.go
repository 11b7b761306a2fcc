package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"rmref/internal/auth"
	"rmref/internal/testapp"
)

// authOrg is a small bank: HQ > region > branch > team, with one staff
// member of each kind.
type authOrg struct {
	HQ, Region, Branch, Team int64
	Staff, Manager, Admin    int64
	Auditor                  int64
}

func seedAuthOrg(t *testing.T, a *testapp.App) authOrg {
	t.Helper()
	s := a.Seed()
	var o authOrg
	o.HQ = s.Unit("hq", "HQ", "总行", 0)
	o.Region = s.Unit("region", "R1", "华东区", o.HQ)
	o.Branch = s.Unit("branch", "B1", "上海分行", o.Region)
	o.Team = s.Unit("team", "T1", "陆家嘴一组", o.Branch)
	o.Staff = s.Staff("E1001", "王小明", o.Team)
	o.Manager = s.Staff("E2001", "李经理", o.Branch, auth.RoleStaff, auth.RoleManager)
	o.Admin = s.Staff("E9001", "赵总", o.HQ, auth.RoleHQAdmin)
	o.Auditor = s.Staff("E9002", "钱审计", o.HQ, auth.RoleAuditor)
	return o
}

// setPassword stores a password hash directly (cheap bcrypt cost).
func setPassword(t *testing.T, a *testapp.App, staffID int64, password string) {
	t.Helper()
	h, err := auth.HashPassword(password, bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.DB.ExecContext(context.Background(), `UPDATE staff SET password_hash = ? WHERE id = ?`, h, staffID); err != nil {
		t.Fatal(err)
	}
}

type session struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	StaffID      string `json:"staff_id"`
}

func login(t *testing.T, a *testapp.App, emp, password string) session {
	t.Helper()
	res := a.Do("POST", "/api/v1/auth/login", "", map[string]string{"employee_no": emp, "password": password})
	wantStatus(t, res, http.StatusOK)
	var s session
	res.JSON(t, &s)
	if s.AccessToken == "" || !strings.HasPrefix(s.RefreshToken, "rt_") || s.TokenType != "Bearer" {
		t.Fatalf("login: bad session %s", res.Body)
	}
	return s
}

func refresh(a *testapp.App, rt string) testapp.Response {
	return a.Do("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": rt})
}

func wantStatus(t *testing.T, res testapp.Response, status int) {
	t.Helper()
	if res.Status != status {
		t.Fatalf("status = %d, want %d: %s", res.Status, status, res.Body)
	}
}

// wantProblem checks status, the problem+json content type and the type slug.
func wantProblem(t *testing.T, res testapp.Response, status int, slug string) {
	t.Helper()
	wantStatus(t, res, status)
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Fatalf("Content-Type = %q, want application/problem+json", ct)
	}
	if slug != "" {
		if got := res.Map(t)["type"]; got != "/problems/"+slug {
			t.Fatalf("problem type = %v, want /problems/%s: %s", got, slug, res.Body)
		}
	}
}

// auditActions returns the actions recorded for an entity, oldest first.
func auditActions(t *testing.T, a *testapp.App, entityType, entityID string) []string {
	t.Helper()
	var out []string
	err := a.DB.SelectContext(context.Background(), &out, `SELECT action FROM audit_log WHERE entity_type = ? AND entity_id = ? ORDER BY id`, entityType, entityID)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
