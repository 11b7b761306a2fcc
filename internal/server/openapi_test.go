package server_test

import (
	"encoding/json"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"rmref/internal/testapp"
)

var ginParam = regexp.MustCompile(`[:*]([A-Za-z_]+)`)

// TestOpenAPIMatchesRoutes fails when a route is missing from the OpenAPI
// document or the document lists a route that does not exist.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	a := testapp.Start(t, "sqlite", testapp.Options{})
	var routes []string
	for _, r := range a.Server.Routes() {
		routes = append(routes, strings.ToLower(r.Method)+" "+ginParam.ReplaceAllString(r.Path, "{$1}"))
	}
	sort.Strings(routes)
	res := a.Do("GET", "/api/openapi.json", "", nil)
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	res.JSON(t, &doc)
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q", doc.OpenAPI)
	}
	var documented []string
	for p, ops := range doc.Paths {
		for m := range ops {
			if m == "parameters" || m == "summary" || m == "description" {
				continue
			}
			documented = append(documented, m+" "+p)
		}
	}
	sort.Strings(documented)
	if diff := cmp.Diff(routes, documented); diff != "" {
		t.Fatalf("routes (-registered +documented):\n%s", diff)
	}
}
