package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"slices"
	"strings"
	"testing"

	"rmref/internal/auth"
	"rmref/internal/testapp"
)

// orgFixture is HQ > R1 > B1 > T1 and HQ > R2 > B2, with a manager of B1.
type orgFixture struct {
	hq, r1, r2, b1, t1, b2       int64
	admin, auditor, mgr, s1, s1b int64
	s2                           int64
	adminT, auditorT, mgrT, s1T  string
}

func newOrgFixture(t *testing.T, a *testapp.App) orgFixture {
	t.Helper()
	sd := a.Seed()
	var f orgFixture
	f.hq = sd.Unit("hq", "HQ", "总行", 0)
	f.r1, f.r2 = sd.Unit("region", "R1", "华东", f.hq), sd.Unit("region", "R2", "华南", f.hq)
	f.b1, f.b2 = sd.Unit("branch", "B1", "上海分行", f.r1), sd.Unit("branch", "B2", "广州分行", f.r2)
	f.t1 = sd.Unit("team", "T1", "浦东一组", f.b1)
	f.admin = sd.Staff("A1", "王总", f.hq, auth.RoleHQAdmin)
	f.auditor = sd.Staff("AU1", "审计", f.hq, auth.RoleAuditor)
	f.mgr = sd.Staff("M1", "杨经理", f.b1, auth.RoleStaff, auth.RoleManager)
	f.s1, f.s1b = sd.Staff("S1", "林一", f.t1), sd.Staff("S1B", "林二", f.t1)
	f.s2 = sd.Staff("S2", "秘密员工", f.b2)
	f.adminT, f.auditorT, f.mgrT, f.s1T = a.Token(f.admin), a.Token(f.auditor), a.Token(f.mgr), a.Token(f.s1)
	return f
}

func ids(t *testing.T, r testapp.Response) []string {
	t.Helper()
	var page struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
		Total int `json:"total"`
	}
	r.JSON(t, &page)
	var out []string
	for _, it := range page.Items {
		out = append(out, it.ID)
	}
	slices.Sort(out)
	return out
}

func idStrs(xs ...int64) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = fmt.Sprint(x)
	}
	slices.Sort(out)
	return out
}

// TestOrgCrossSubtree: a manager gets 404 (never the data) for every org
// route aimed outside their subtree, and nothing changes.
func TestOrgCrossSubtree(t *testing.T) {
	testapp.Each(t, testapp.Options{}, func(t *testing.T, a *testapp.App) {
		f := newOrgFixture(t, a)
		cases := []struct {
			method, path string
			body         any
		}{
			{"GET", "/api/v1/org/units/%d", f.b2},
			{"PATCH", "/api/v1/org/units/%d", f.b2},
			{"POST", "/api/v1/org/units/%d/move", f.b2},
			{"GET", "/api/v1/org/units/%d/history", f.b2},
			{"GET", "/api/v1/org/units/%d/staff?recursive=true", f.b2},
			{"GET", "/api/v1/org/units/%d/staff", f.r2},
			{"GET", "/api/v1/staff/%d", f.s2},
			{"PATCH", "/api/v1/staff/%d", f.s2},
			{"POST", "/api/v1/staff/%d/transfer", f.s2},
			{"GET", "/api/v1/staff/%d/history", f.s2},
			{"GET", "/api/v1/staff/%d/chain", f.s2},
			{"GET", "/api/v1/staff?unit_id=%d&recursive=true", f.b2},
		}
		bodies := map[string]any{
			"PATCH /api/v1/org/units/%d":     map[string]any{"name": "改名"},
			"POST /api/v1/org/units/%d/move": map[string]any{"parent_id": fmt.Sprint(f.r1)},
			"PATCH /api/v1/staff/%d":         map[string]any{"name": "改名", "status": "left"},
			"POST /api/v1/staff/%d/transfer": map[string]any{"unit_id": fmt.Sprint(f.t1)},
		}
		for _, c := range cases {
			t.Run(c.method+" "+c.path, func(t *testing.T) {
				r := a.Do(c.method, fmt.Sprintf(c.path, c.body), f.mgrT, bodies[c.method+" "+c.path])
				if r.Status != http.StatusNotFound {
					t.Fatalf("status %d, want 404: %s", r.Status, r.Body)
				}
				if strings.Contains(string(r.Body), "秘密员工") || strings.Contains(string(r.Body), "广州分行") {
					t.Errorf("404 body reveals data: %s", r.Body)
				}
			})
		}
		t.Run("writes aimed outside via the body", func(t *testing.T) {
			for _, w := range []struct {
				method, path string
				body         any
			}{
				{"POST", "/api/v1/org/units", map[string]any{"kind": "team", "code": "TX", "name": "新组", "parent_id": fmt.Sprint(f.b2)}},
				{"POST", "/api/v1/staff", map[string]any{"employee_no": "NEW1", "name": "新人", "unit_id": fmt.Sprint(f.b2)}},
				{"POST", fmt.Sprintf("/api/v1/staff/%d/transfer", f.s1), map[string]any{"unit_id": fmt.Sprint(f.b2)}},
				{"POST", fmt.Sprintf("/api/v1/org/units/%d/move", f.t1), map[string]any{"parent_id": fmt.Sprint(f.b2)}},
			} {
				if r := a.Do(w.method, w.path, f.mgrT, w.body); r.Status != http.StatusNotFound {
					t.Errorf("%s %s: status %d, want 404: %s", w.method, w.path, r.Status, r.Body)
				}
			}
		})
		t.Run("nothing changed", func(t *testing.T) {
			m := a.Do("GET", fmt.Sprintf("/api/v1/staff/%d", f.s2), f.adminT, nil).Map(t)
			if m["name"] != "秘密员工" || m["status"] != "active" || m["unit_id"] != fmt.Sprint(f.b2) {
				t.Errorf("s2 changed: %v", m)
			}
			u := a.Do("GET", fmt.Sprintf("/api/v1/org/units/%d", f.b2), f.adminT, nil).Map(t)
			if u["name"] != "广州分行" || u["parent_id"] != fmt.Sprint(f.r2) {
				t.Errorf("b2 changed: %v", u)
			}
			var n int
			_ = a.DB.Get(&n, `SELECT COUNT(*) FROM staff WHERE employee_no = 'NEW1'`)
			if n != 0 {
				t.Errorf("staff NEW1 was created")
			}
		})
		t.Run("lists are scoped", func(t *testing.T) {
			if got, want := ids(t, a.Do("GET", "/api/v1/staff", f.mgrT, nil)), idStrs(f.mgr, f.s1, f.s1b); !slices.Equal(got, want) {
				t.Errorf("manager staff list %v, want %v", got, want)
			}
			if got, want := ids(t, a.Do("GET", "/api/v1/org/units", f.mgrT, nil)), idStrs(f.b1, f.t1); !slices.Equal(got, want) {
				t.Errorf("manager unit list %v, want %v", got, want)
			}
			if got, want := ids(t, a.Do("GET", fmt.Sprintf("/api/v1/org/units/%d/staff?recursive=true", f.b1), f.mgrT, nil)), idStrs(f.mgr, f.s1, f.s1b); !slices.Equal(got, want) {
				t.Errorf("manager subtree staff %v, want %v", got, want)
			}
			if got, want := ids(t, a.Do("GET", "/api/v1/staff", f.s1T, nil)), idStrs(f.s1); !slices.Equal(got, want) {
				t.Errorf("staff list for a staff member %v, want only self %v", got, want)
			}
			if got := ids(t, a.Do("GET", "/api/v1/staff", f.auditorT, nil)); len(got) != 6 {
				t.Errorf("auditor sees %d staff, want 6", len(got))
			}
		})
	})
}

// TestOrgForbiddenInScope: callers who may see something but not change it
// get 403, and a staff member sees only themselves.
func TestOrgForbiddenInScope(t *testing.T) {
	testapp.Each(t, testapp.Options{}, func(t *testing.T, a *testapp.App) {
		f := newOrgFixture(t, a)
		for _, c := range []struct {
			name, token, method, path string
			body                      any
			want                      int
		}{
			{"manager renames a unit", f.mgrT, "PATCH", fmt.Sprintf("/api/v1/org/units/%d", f.t1), map[string]any{"name": "x"}, 403},
			{"manager creates a unit", f.mgrT, "POST", "/api/v1/org/units", map[string]any{"kind": "team", "code": "TX", "name": "x", "parent_id": fmt.Sprint(f.b1)}, 403},
			{"manager grants hq_admin", f.mgrT, "PATCH", fmt.Sprintf("/api/v1/staff/%d", f.s1), map[string]any{"roles": []string{"hq_admin"}}, 403},
			{"manager imports", f.mgrT, "POST", "/api/v1/org/import?kind=units", nil, 403},
			{"auditor changes staff", f.auditorT, "PATCH", fmt.Sprintf("/api/v1/staff/%d", f.s1), map[string]any{"name": "x"}, 403},
			{"auditor transfers", f.auditorT, "POST", fmt.Sprintf("/api/v1/staff/%d/transfer", f.s1), map[string]any{"unit_id": fmt.Sprint(f.b2)}, 403},
			{"staff changes self", f.s1T, "PATCH", fmt.Sprintf("/api/v1/staff/%d", f.s1), map[string]any{"name": "x"}, 403},
			{"staff reads a colleague", f.s1T, "GET", fmt.Sprintf("/api/v1/staff/%d", f.s1b), nil, 404},
			{"staff reads self", f.s1T, "GET", fmt.Sprintf("/api/v1/staff/%d", f.s1), nil, 200},
			{"staff reads own unit", f.s1T, "GET", fmt.Sprintf("/api/v1/org/units/%d", f.t1), nil, 200},
			{"staff reads the branch above", f.s1T, "GET", fmt.Sprintf("/api/v1/org/units/%d", f.b1), nil, 404},
			{"staff lists own unit's staff", f.s1T, "GET", fmt.Sprintf("/api/v1/org/units/%d/staff", f.t1), nil, 200},
			{"auditor reads anywhere", f.auditorT, "GET", fmt.Sprintf("/api/v1/staff/%d/history", f.s2), nil, 200},
			{"auditor moves a unit", f.auditorT, "POST", fmt.Sprintf("/api/v1/org/units/%d/move", f.t1), map[string]any{"parent_id": fmt.Sprint(f.b2)}, 403},
			{"manager renames own staff", f.mgrT, "PATCH", fmt.Sprintf("/api/v1/staff/%d", f.s1b), map[string]any{"name": "林二二"}, 200},
			{"manager transfers within subtree", f.mgrT, "POST", fmt.Sprintf("/api/v1/staff/%d/transfer", f.s1b), map[string]any{"unit_id": fmt.Sprint(f.b1)}, 200},
			{"no token", "", "GET", "/api/v1/org/units", nil, 401},
		} {
			t.Run(c.name, func(t *testing.T) {
				if r := a.Do(c.method, c.path, c.token, c.body); r.Status != c.want {
					t.Errorf("status %d, want %d: %s", r.Status, c.want, r.Body)
				}
			})
		}
	})
}

// TestOrgLifecycle: create, transfer with history, chain at instants, move
// a unit, leave (sessions end), phone kept only hashed and masked.
func TestOrgLifecycle(t *testing.T) {
	testapp.Each(t, testapp.Options{}, func(t *testing.T, a *testapp.App) {
		f := newOrgFixture(t, a)
		r := a.Do("POST", "/api/v1/staff", f.adminT, map[string]any{"employee_no": "N1", "name": "新员工", "unit_id": fmt.Sprint(f.t1), "phone": "138 1234 5678"})
		if r.Status != 201 {
			t.Fatalf("create: %d %s", r.Status, r.Body)
		}
		st := r.Map(t)
		if st["phone_masked"] != "138****5678" || strings.Contains(string(r.Body), "13812345678") {
			t.Errorf("phone shown as %v in %s", st["phone_masked"], r.Body)
		}
		var stored int
		_ = a.DB.Get(&stored, `SELECT COUNT(*) FROM staff WHERE phone_hash LIKE '%13812345678%' OR phone_masked = '13812345678'`)
		if stored != 0 {
			t.Error("phone stored in clear")
		}
		id := st["id"].(string)
		before := a.Clock.Now()
		a.Clock.Advance(48 * 3600e9)
		f.adminT = a.Token(f.admin)
		if r := a.Do("POST", "/api/v1/staff/"+id+"/transfer", f.adminT, map[string]any{"unit_id": fmt.Sprint(f.b2)}); r.Status != 200 {
			t.Fatalf("transfer: %d %s", r.Status, r.Body)
		}
		chainAt := func(at string) map[string]any {
			r := a.Do("GET", "/api/v1/staff/"+id+"/chain?at="+at, f.adminT, nil)
			if r.Status != 200 {
				t.Fatalf("chain: %d %s", r.Status, r.Body)
			}
			return r.Map(t)
		}
		if c := chainAt(before.Format("2006-01-02T15:04:05Z")); c["team_id"] != fmt.Sprint(f.t1) || c["region_id"] != fmt.Sprint(f.r1) {
			t.Errorf("chain before transfer: %v", c)
		}
		if c := chainAt(a.Clock.Now().Format("2006-01-02T15:04:05Z")); c["team_id"] != "0" || c["branch_id"] != fmt.Sprint(f.b2) || c["region_id"] != fmt.Sprint(f.r2) {
			t.Errorf("chain after transfer: %v", c)
		}
		var hist struct {
			Items []map[string]any `json:"items"`
		}
		a.Do("GET", "/api/v1/staff/"+id+"/history", f.adminT, nil).JSON(t, &hist)
		if len(hist.Items) != 2 || hist.Items[0]["valid_to"] == nil || hist.Items[1]["valid_to"] != nil {
			t.Errorf("history: %v", hist.Items)
		}
		// Move B2 under R1: the chain now has R1, earlier instants keep R2.
		a.Clock.Advance(3600e9)
		f.adminT = a.Token(f.admin)
		if r := a.Do("POST", fmt.Sprintf("/api/v1/org/units/%d/move", f.b2), f.adminT, map[string]any{"parent_id": fmt.Sprint(f.r1)}); r.Status != 200 {
			t.Fatalf("move: %d %s", r.Status, r.Body)
		}
		if c := chainAt(a.Clock.Now().Format("2006-01-02T15:04:05Z")); c["region_id"] != fmt.Sprint(f.r1) {
			t.Errorf("chain after move: %v", c)
		}
		if r := a.Do("POST", fmt.Sprintf("/api/v1/org/units/%d/move", f.r1), f.adminT, map[string]any{"parent_id": fmt.Sprint(f.b2)}); r.Status != 409 {
			t.Errorf("move into own subtree: %d %s", r.Status, r.Body)
		}
		// Leaving ends the sessions at once.
		tok := a.Token(f.s1)
		if r := a.Do("PATCH", fmt.Sprintf("/api/v1/staff/%d", f.s1), f.adminT, map[string]any{"status": "left"}); r.Status != 200 || r.Map(t)["left_at"] == nil {
			t.Fatalf("leave: %d %s", r.Status, r.Body)
		}
		if r := a.Do("GET", fmt.Sprintf("/api/v1/staff/%d", f.s1), tok, nil); r.Status != 401 {
			t.Errorf("token of a leaver: %d, want 401", r.Status)
		}
		var audits int
		_ = a.DB.Get(&audits, `SELECT COUNT(*) FROM audit_log WHERE action IN ('staff.create', 'staff.transfer', 'unit.move', 'staff.leave')`)
		if audits != 4 {
			t.Errorf("audit entries %d, want 4", audits)
		}
	})
}

// TestOrgImportHTTP: dry run shows the diff without applying; a bad row
// rejects the whole file.
func TestOrgImportHTTP(t *testing.T) {
	testapp.Each(t, testapp.Options{}, func(t *testing.T, a *testapp.App) {
		f := newOrgFixture(t, a)
		csv := []byte("employee_no,name,unit_code,roles,status,left_on,phone\nS1,林一,B1,staff,active,,\nNEW9,新九,T1,,active,,13900001111\nS2,秘密员工,B2,staff,left,2026-10-01,\n")
		r := postCSV(t, a, "/api/v1/org/import?kind=staff&dry_run=true", f.adminT, csv)
		if r.Status != 200 {
			t.Fatalf("dry run: %d %s", r.Status, r.Body)
		}
		m := r.Map(t)
		if m["created"] != 1.0 || m["moved"] != 1.0 || m["left"] != 1.0 || m["dry_run"] != true {
			t.Errorf("dry run diff: %s", r.Body)
		}
		var n int
		_ = a.DB.Get(&n, `SELECT COUNT(*) FROM staff WHERE employee_no = 'NEW9'`)
		if n != 0 {
			t.Error("dry run applied")
		}
		bad := append(append([]byte(nil), csv...), []byte("BAD1,坏,NOPE,staff,active,,\n")...)
		r = postCSV(t, a, "/api/v1/org/import?kind=staff", f.adminT, bad)
		if r.Status != 400 || !strings.Contains(string(r.Body), "rows[5].unit_code") {
			t.Fatalf("bad file: %d %s", r.Status, r.Body)
		}
		_ = a.DB.Get(&n, `SELECT COUNT(*) FROM staff WHERE employee_no IN ('NEW9', 'BAD1')`)
		if n != 0 {
			t.Error("rejected file partly applied")
		}
		if r := postCSV(t, a, "/api/v1/org/import?kind=staff", f.adminT, csv); r.Status != 200 {
			t.Fatalf("import: %d %s", r.Status, r.Body)
		}
		if s := a.Do("GET", fmt.Sprintf("/api/v1/staff/%d", f.s2), f.adminT, nil).Map(t); s["status"] != "left" {
			t.Errorf("S2 after import: %v", s)
		}
		if r := a.Do("GET", fmt.Sprintf("/api/v1/staff/%d", f.s2), a.Token(f.s2), nil); r.Status != 401 {
			t.Errorf("S2's token after leaving by import: %d, want 401", r.Status)
		}
		// The same file as a multipart upload is now all unchanged.
		var mp bytes.Buffer
		w := multipart.NewWriter(&mp)
		part, _ := w.CreateFormFile("file", "staff.csv")
		part.Write(csv)
		w.Close()
		req, _ := http.NewRequest("POST", a.URL+"/api/v1/org/import?kind=staff&dry_run=true", &mp)
		req.Header.Set("Content-Type", w.FormDataContentType())
		req.Header.Set("Authorization", "Bearer "+f.adminT)
		res, err := a.HTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var got struct{ Unchanged, Created int }
		if err := json.NewDecoder(res.Body).Decode(&got); err != nil || res.StatusCode != 200 || got.Unchanged != 3 || got.Created != 0 {
			t.Errorf("multipart re-import: %d %+v %v", res.StatusCode, got, err)
		}
		var audits int
		_ = a.DB.Get(&audits, `SELECT COUNT(*) FROM audit_log WHERE action = 'org.import.staff'`)
		if audits != 1 {
			t.Errorf("import audit entries %d, want 1", audits)
		}
		_ = a.DB.Get(&audits, `SELECT COUNT(*) FROM audit_log WHERE action = 'staff.import.left' AND entity_type = 'staff' AND entity_id = ?`, fmt.Sprint(f.s2))
		if audits != 1 {
			t.Errorf("audit entries for S2 leaving by import: %d, want 1", audits)
		}
	})
}

// postCSV posts a text/csv body.
func postCSV(t *testing.T, a *testapp.App, path, token string, body []byte) testapp.Response {
	t.Helper()
	req, err := http.NewRequest("POST", a.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "text/csv; charset=utf-8")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := a.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return testapp.Response{Status: res.StatusCode, Header: res.Header, Body: b}
}
