package main

import (
	"bytes"
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"rmref/internal/auth"
	"rmref/internal/clock"
	"rmref/internal/db"
	"rmref/internal/testapp"
)

func cliEnv(t *testing.T) (env, *bytes.Buffer, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cli.db")
	vars := map[string]string{"RMREF_DB": path, "RMREF_JWT_SECRET": "cli-test-secret-cli-test-secret-0123", "RMREF_HASH_KEY": "cli-test-hash-key-01"}
	out := &bytes.Buffer{}
	return env{stdout: out, stderr: &bytes.Buffer{}, getenv: func(k string) string { return vars[k] }}, out, path
}

func runCLI(t *testing.T, e env, out *bytes.Buffer, args ...string) string {
	t.Helper()
	out.Reset()
	e.args = args
	if err := run(context.Background(), e); err != nil {
		t.Fatalf("rmref %s: %v (stderr: %s)", strings.Join(args, " "), err, e.stderr)
	}
	return out.String()
}

func field(t *testing.T, out, name string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + name + `:\s+(\S+)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no %s in %q", name, out)
	}
	return m[1]
}

// TestStaffActivateCLI: the printed code sets the password once.
func TestStaffActivateCLI(t *testing.T) {
	e, out, path := cliEnv(t)
	runCLI(t, e, out, "migrate")
	d, err := db.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	s := testapp.NewSeeder(t, d)
	s.Staff("E7001", "周敏", s.Unit("hq", "HQ", "总行", 0))

	got := runCLI(t, e, out, "staff", "activate", "--employee", "E7001")
	m := regexp.MustCompile(`E7001: ([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})`).FindStringSubmatch(got)
	if m == nil {
		t.Fatalf("no code in %q", got)
	}
	svc := &auth.Service{DB: d, Clock: clock.System{}}
	if err := svc.Activate(context.Background(), "E7001", m[1], "a long password"); err != nil {
		t.Fatalf("activate with the printed code: %v", err)
	}
	if err := svc.Activate(context.Background(), "E7001", m[1], "a long password"); err == nil {
		t.Fatal("code worked twice")
	}
	e.args = []string{"staff", "activate", "--employee", "E0000"}
	if err := run(context.Background(), e); err == nil {
		t.Fatal("unknown employee accepted")
	}
}

// TestClientsCLI: create prints a working secret once; rotate changes it;
// revoke shows in the list; each change is audited as "cli".
func TestClientsCLI(t *testing.T) {
	e, out, path := cliEnv(t)
	created := runCLI(t, e, out, "clients", "create", "--name", "card system", "--scopes", "conversions:write, events:write")
	key, secret := field(t, created, "key"), field(t, created, "secret")
	d, err := db.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	c, err := auth.LoadClient(context.Background(), d, key)
	if err != nil {
		t.Fatal(err)
	}
	if auth.ClientSecret([]byte("cli-test-hash-key-01"), key, c.Salt) != secret || c.Scopes != "conversions:write,events:write" {
		t.Fatalf("printed secret or scopes do not match the client: %+v", c)
	}
	rotated := field(t, runCLI(t, e, out, "clients", "rotate", "--key", key), "secret")
	if rotated == secret {
		t.Error("rotate kept the secret")
	}
	runCLI(t, e, out, "clients", "revoke", "--key", key)
	if list := runCLI(t, e, out, "clients", "list"); !strings.Contains(list, key) || !strings.Contains(list, "revoked") {
		t.Errorf("list = %q", list)
	}
	var actions []string
	if err := d.Select(&actions, `SELECT action FROM audit_log WHERE actor = 'cli' ORDER BY id`); err != nil {
		t.Fatal(err)
	}
	if strings.Join(actions, ",") != "client.create,client.rotate,client.revoke" {
		t.Errorf("audit = %v", actions)
	}
	for _, args := range [][]string{{"clients"}, {"clients", "bogus"}, {"clients", "create", "--name", "x"}, {"clients", "rotate"}} {
		e.args = args
		if err := run(context.Background(), e); err == nil {
			t.Errorf("rmref %v accepted", args)
		}
	}
}
