package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"rmref/internal/auth"
	"rmref/internal/testapp"
)

func orgCounts(t *testing.T, a *testapp.App) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, q := range []string{
		"SELECT COUNT(*) FROM org_units", "SELECT COUNT(*) FROM staff", "SELECT COUNT(*) FROM staff_assignments",
		"SELECT COUNT(*) FROM unit_paths", "SELECT COUNT(*) FROM audit_log",
		"SELECT COUNT(*) FROM org_units WHERE kind = 'hq'", "SELECT COUNT(*) FROM org_units WHERE kind = 'region'",
		"SELECT COUNT(*) FROM org_units WHERE kind = 'branch'", "SELECT COUNT(*) FROM org_units WHERE kind = 'subbranch'",
		"SELECT COUNT(*) FROM org_units WHERE kind = 'team'", "SELECT COUNT(*) FROM staff WHERE phone_hash IS NOT NULL",
	} {
		var n int
		if err := a.DB.Get(&n, q); err != nil {
			t.Fatal(err)
		}
		out[q] = n
	}
	return out
}

func TestDemoOrgIsIdempotent(t *testing.T) {
	testapp.Each(t, testapp.Options{}, func(t *testing.T, a *testapp.App) {
		ctx := context.Background()
		first, err := seedOrg(ctx, a.App)
		if err != nil {
			t.Fatal(err)
		}
		before := orgCounts(t, a)
		second, err := seedOrg(ctx, a.App)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(before, orgCounts(t, a)); diff != "" {
			t.Errorf("second seed changed counts (-first +second):\n%s", diff)
		}
		if diff := cmp.Diff(first, second); diff != "" {
			t.Errorf("second seed found other ids (-first +second):\n%s", diff)
		}
		want := map[string]int{"org_units": 17, "staff": 40, "hq": 1, "region": 2, "branch": 4, "subbranch": 2, "team": 8, "phones": 40}
		got := map[string]int{"org_units": before["SELECT COUNT(*) FROM org_units"], "staff": before["SELECT COUNT(*) FROM staff"],
			"hq": before["SELECT COUNT(*) FROM org_units WHERE kind = 'hq'"], "region": before["SELECT COUNT(*) FROM org_units WHERE kind = 'region'"],
			"branch": before["SELECT COUNT(*) FROM org_units WHERE kind = 'branch'"], "subbranch": before["SELECT COUNT(*) FROM org_units WHERE kind = 'subbranch'"],
			"team": before["SELECT COUNT(*) FROM org_units WHERE kind = 'team'"], "phones": before["SELECT COUNT(*) FROM staff WHERE phone_hash IS NOT NULL"]}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("demo bank shape (-want +got):\n%s", diff)
		}
		var roles []string
		if err := a.DB.Select(&roles, `SELECT roles FROM staff`); err != nil {
			t.Fatal(err)
		}
		count := func(r auth.Role) int {
			n := 0
			for _, rs := range roles {
				if slices.Contains(auth.ParseRoles(rs), r) {
					n++
				}
			}
			return n
		}
		if count(auth.RoleHQAdmin) != 2 || count(auth.RoleCampaignManager) != 2 || count(auth.RoleManager) != 4 || count(auth.RoleAuditor) != 1 {
			t.Errorf("roles: hq_admin %d, campaign_manager %d, manager %d, auditor %d", count(auth.RoleHQAdmin), count(auth.RoleCampaignManager), count(auth.RoleManager), count(auth.RoleAuditor))
		}
		if len(second.Agents) != 4 || second.CallCentre == 0 {
			t.Errorf("call centre: %d agents in unit %d", len(second.Agents), second.CallCentre)
		}
	})
}

var blockRE = regexp.MustCompile(`# branch manager[^\n]*\nTOKEN=(\S+)\ncurl [^']*'([^']+)'`)

// TestDemoManagerTokenListsSubtree: the printed manager token and curl line
// list exactly the staff of that manager's branch subtree.
func TestDemoManagerTokenListsSubtree(t *testing.T) {
	testapp.Each(t, testapp.Options{}, func(t *testing.T, a *testapp.App) {
		ctx := context.Background()
		o, err := seedOrg(ctx, a.App)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := printCredentials(ctx, a.App, o, &out); err != nil {
			t.Fatal(err)
		}
		m := blockRE.FindStringSubmatch(out.String())
		if m == nil {
			t.Fatalf("no branch manager block in:\n%s", out.String())
		}
		url := strings.Replace(m[2], a.Config.BaseURL, a.URL, 1) + "&limit=500"
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", "Bearer "+m[1])
		res, err := a.HTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var page struct {
			Items []struct {
				ID string `json:"id"`
			} `json:"items"`
			Total int `json:"total"`
		}
		if err := json.NewDecoder(res.Body).Decode(&page); err != nil || res.StatusCode != 200 {
			t.Fatalf("%s: %d %v", url, res.StatusCode, err)
		}
		var got []string
		for _, it := range page.Items {
			got = append(got, it.ID)
		}
		var path string
		if err := a.DB.Get(&path, `SELECT path FROM org_units WHERE code = 'BR-SH'`); err != nil {
			t.Fatal(err)
		}
		lo, hi := auth.PathRange(path)
		var wantIDs []int64
		if err := a.DB.Select(&wantIDs, `SELECT s.id FROM staff s JOIN org_units u ON u.id = s.unit_id WHERE u.path >= ? AND u.path < ? ORDER BY s.id`, lo, hi); err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, id := range wantIDs {
			want = append(want, strconv.FormatInt(id, 10))
		}
		if len(want) < 5 || page.Total != len(want) {
			t.Errorf("total %d, want %d (subtree of BR-SH)", page.Total, len(want))
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("manager's list (-subtree +got):\n%s", diff)
		}
		for _, label := range []string{"# staff member", "# campaign manager", "# HQ admin"} {
			if !strings.Contains(out.String(), label) {
				t.Errorf("printout lacks %q", label)
			}
		}
	})
}
