package server_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"rmref/internal/auth"
	"rmref/internal/testapp"
)

type clientJSON struct {
	ID      string   `json:"id"`
	KeyID   string   `json:"key_id"`
	Name    string   `json:"name"`
	Scopes  []string `json:"scopes"`
	Status  string   `json:"status"`
	Secret  string   `json:"secret"`
	Rotated *string  `json:"rotated_at"`
}

// sendSigned signs a request at timestamp ts; sig overrides the signature
// when not empty. It returns the response and the signature sent.
func sendSigned(t *testing.T, a *testapp.App, method, path, key, secret string, ts int64, body []byte, sig string) (testapp.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, a.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if sig == "" {
		sig = auth.SignRequest(secret, method, req.URL.RequestURI(), ts, body)
	}
	req.Header.Set(auth.HeaderKey, key)
	req.Header.Set(auth.HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(auth.HeaderSignature, sig)
	res, err := a.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return testapp.Response{Status: res.StatusCode, Header: res.Header, Body: b}, sig
}

func createClient(t *testing.T, a *testapp.App, admin, name string, scopes ...string) clientJSON {
	t.Helper()
	res := a.Do("POST", "/api/v1/clients", admin, map[string]any{"name": name, "scopes": scopes})
	wantStatus(t, res, http.StatusCreated)
	var c clientJSON
	res.JSON(t, &c)
	if c.Secret == "" || !strings.HasPrefix(c.KeyID, "k_") || c.Status != "active" {
		t.Fatalf("created client = %s", res.Body)
	}
	return c
}

// TestClientSignatures: a good signature passes; a wrong one, a timestamp
// more than 300 s either way, a replay, a revoked key, and the old secret
// after rotation are all 401.
func TestClientSignatures(t *testing.T) {
	testapp.Each(t, testapp.Options{}, func(t *testing.T, a *testapp.App) {
		o := seedAuthOrg(t, a)
		admin := a.Token(o.Admin)
		c := createClient(t, a, admin, "card system", "conversions:write", "events:write")
		const who = "/api/v1/clients/whoami?probe=1"
		now := a.Clock.Now().Unix()

		res, sig := sendSigned(t, a, "GET", who, c.KeyID, c.Secret, now, nil, "")
		wantStatus(t, res, http.StatusOK)
		var me struct {
			KeyID, Name string
			Scopes      []string
		}
		res.JSON(t, &me)
		if diff := cmp.Diff([]string{"conversions:write", "events:write"}, me.Scopes); diff != "" || me.Name != "card system" {
			t.Errorf("whoami = %s", res.Body)
		}
		res, _ = sendSigned(t, a, "GET", who, c.KeyID, c.Secret, now, nil, sig)
		wantProblem(t, res, http.StatusUnauthorized, "replayed_request")

		body := []byte(`{"x":1}`)
		cases := []struct {
			name, key, secret, sig, slug string
			ts                           int64
			body                         []byte
		}{
			{"wrong signature", c.KeyID, c.Secret, strings.Repeat("ab", 32), "bad_signature", now + 1, nil},
			{"wrong secret", c.KeyID, "not-the-secret", "", "bad_signature", now + 2, nil},
			{"body changed", c.KeyID, c.Secret, auth.SignRequest(c.Secret, "GET", who, now+3, []byte(`{"x":2}`)), "bad_signature", now + 3, body},
			{"stale past", c.KeyID, c.Secret, "", "stale_signature", now - 301, nil},
			{"stale future", c.KeyID, c.Secret, "", "stale_signature", now + 301, nil},
			{"unknown key", "k_nobody", c.Secret, "", "unauthorized", now + 4, nil},
			{"missing key", "", c.Secret, "", "missing_signature", now + 5, nil},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				res, _ := sendSigned(t, a, "GET", who, tc.key, tc.secret, tc.ts, tc.body, tc.sig)
				wantProblem(t, res, http.StatusUnauthorized, tc.slug)
			})
		}
		for _, skew := range []int64{-300, 299} {
			res, _ := sendSigned(t, a, "GET", who, c.KeyID, c.Secret, now+skew, nil, "")
			wantStatus(t, res, http.StatusOK)
		}

		rot := a.Do("POST", "/api/v1/clients/"+c.ID+"/rotate", admin, nil)
		wantStatus(t, rot, http.StatusOK)
		var r clientJSON
		rot.JSON(t, &r)
		if r.Secret == c.Secret || r.KeyID != c.KeyID || r.Rotated == nil {
			t.Fatalf("rotate = %s", rot.Body)
		}
		res, _ = sendSigned(t, a, "GET", who, c.KeyID, c.Secret, now+10, nil, "")
		wantProblem(t, res, http.StatusUnauthorized, "bad_signature")
		res, _ = sendSigned(t, a, "GET", who, c.KeyID, r.Secret, now+11, nil, "")
		wantStatus(t, res, http.StatusOK)

		wantStatus(t, a.Do("POST", "/api/v1/clients/"+c.ID+"/revoke", admin, nil), http.StatusOK)
		res, _ = sendSigned(t, a, "GET", who, c.KeyID, r.Secret, now+12, nil, "")
		wantProblem(t, res, http.StatusUnauthorized, "unauthorized")
		wantProblem(t, a.Do("POST", "/api/v1/clients/"+c.ID+"/rotate", admin, nil), http.StatusConflict, "client_revoked")
		wantStatus(t, a.Do("POST", "/api/v1/clients/"+c.ID+"/revoke", admin, nil), http.StatusOK)

		got := auditActions(t, a, "service_client", c.ID)
		if diff := cmp.Diff([]string{"client.create", "client.rotate", "client.revoke"}, got); diff != "" {
			t.Errorf("audit (-want +got):\n%s", diff)
		}
	})
}

// TestClientSignedPost: the body hash is part of the signature (testapp's
// DoSigned, as upstream systems sign).
func TestClientSignedPost(t *testing.T) {
	testapp.Each(t, testapp.Options{}, func(t *testing.T, a *testapp.App) {
		key, secret := a.Client("core banking", "conversions:write")
		wantStatus(t, a.DoSigned("GET", "/api/v1/clients/whoami", key, secret, nil), http.StatusOK)
		a.Clock.Advance(time.Second)
		wantProblem(t, a.DoSigned("GET", "/api/v1/clients/whoami", key, "wrong", nil), http.StatusUnauthorized, "bad_signature")
	})
}

// TestClientsAPI: only hq_admin manages clients; input is validated;
// the list pages with a cursor and never shows secrets.
func TestClientsAPI(t *testing.T) {
	testapp.Each(t, testapp.Options{}, func(t *testing.T, a *testapp.App) {
		o := seedAuthOrg(t, a)
		admin := a.Token(o.Admin)
		for _, tok := range []string{a.Token(o.Manager), a.Token(o.Auditor), a.Token(o.Staff)} {
			wantProblem(t, a.Do("POST", "/api/v1/clients", tok, map[string]any{"name": "x", "scopes": []string{"a"}}), http.StatusForbidden, "forbidden")
			wantProblem(t, a.Do("GET", "/api/v1/clients", tok, nil), http.StatusForbidden, "forbidden")
		}
		res := a.Do("POST", "/api/v1/clients", admin, map[string]any{"name": "", "scopes": []string{"Bad Scope"}})
		wantProblem(t, res, http.StatusBadRequest, "invalid")
		var fields []string
		for _, e := range res.Map(t)["errors"].([]any) {
			fields = append(fields, e.(map[string]any)["field"].(string))
		}
		if diff := cmp.Diff([]string{"name", "scopes[0]"}, fields); diff != "" {
			t.Errorf("fields (-want +got):\n%s", diff)
		}
		for i := 0; i < 3; i++ {
			createClient(t, a, admin, fmt.Sprintf("system %d", i), "events:write")
		}
		wantProblem(t, a.Do("POST", "/api/v1/clients/999999/rotate", admin, nil), http.StatusNotFound, "not_found")
		var names []string
		cursor := ""
		for page := 0; page < 3; page++ {
			res := a.Do("GET", "/api/v1/clients?limit=2"+cursor, admin, nil)
			wantStatus(t, res, http.StatusOK)
			if strings.Contains(string(res.Body), "secret") {
				t.Fatalf("list shows secrets: %s", res.Body)
			}
			var p struct {
				Items      []clientJSON
				NextCursor *string `json:"next_cursor"`
				Total      int
			}
			res.JSON(t, &p)
			for _, c := range p.Items {
				names = append(names, c.Name)
			}
			if p.Total != 3 {
				t.Errorf("total = %d", p.Total)
			}
			if p.NextCursor == nil {
				break
			}
			cursor = "&cursor=" + *p.NextCursor
		}
		if diff := cmp.Diff([]string{"system 0", "system 1", "system 2"}, names); diff != "" {
			t.Errorf("names (-want +got):\n%s", diff)
		}
	})
}

// TestAuditAPI: hq_admin and auditor read the audit log, filtered and
// paged newest first; others are refused.
func TestAuditAPI(t *testing.T) {
	testapp.Each(t, testapp.Options{}, func(t *testing.T, a *testapp.App) {
		o := seedAuthOrg(t, a)
		admin := a.Token(o.Admin)
		c := createClient(t, a, admin, "sms gateway", "leads:read")
		wantStatus(t, a.Do("POST", "/api/v1/clients/"+c.ID+"/rotate", admin, nil), http.StatusOK)
		issueActivation(t, a, admin, o.Staff)
		for _, tok := range []string{a.Token(o.Manager), a.Token(o.Staff)} {
			wantProblem(t, a.Do("GET", "/api/v1/audit", tok, nil), http.StatusForbidden, "forbidden")
		}
		type entry struct{ ID, Actor, Action, EntityType, EntityID string }
		list := func(tok, q string) ([]entry, *string) {
			res := a.Do("GET", "/api/v1/audit"+q, tok, nil)
			wantStatus(t, res, http.StatusOK)
			var p struct {
				Items []struct {
					ID         string `json:"id"`
					Actor      string `json:"actor"`
					Action     string `json:"action"`
					EntityType string `json:"entity_type"`
					EntityID   string `json:"entity_id"`
				}
				NextCursor *string `json:"next_cursor"`
			}
			res.JSON(t, &p)
			var out []entry
			for _, it := range p.Items {
				out = append(out, entry{it.ID, it.Actor, it.Action, it.EntityType, it.EntityID})
			}
			return out, p.NextCursor
		}
		got, _ := list(a.Token(o.Auditor), "?entity_type=service_client&entity_id="+c.ID)
		var actions []string
		for _, e := range got {
			actions = append(actions, e.Action+" by "+e.Actor)
		}
		if diff := cmp.Diff([]string{"client.rotate by staff:E9001", "client.create by staff:E9001"}, actions); diff != "" {
			t.Errorf("filtered (-want +got):\n%s", diff)
		}
		first, next := list(admin, "?limit=2&actor=staff:E9001")
		if len(first) != 2 || next == nil || first[0].Action != "staff.activation_issue" {
			t.Fatalf("page 1 = %+v next %v", first, next)
		}
		rest, next := list(admin, "?limit=2&actor=staff:E9001&cursor="+*next)
		if len(rest) != 1 || next != nil || rest[0].Action != "client.create" {
			t.Fatalf("page 2 = %+v next %v", rest, next)
		}
		wantProblem(t, a.Do("GET", "/api/v1/audit?limit=0", admin, nil), http.StatusBadRequest, "invalid")
	})
}
