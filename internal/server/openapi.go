package server

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"sort"
)

// The OpenAPI 3.1 document is kept in the repository as fragments, one per
// domain (openapi/<domain>.json, each with "paths" and optionally
// "components"), merged over openapi/base.json at start-up. A test keeps it
// equal to the registered routes.
//
//go:embed openapi/*.json
var openapiFS embed.FS

func buildOpenAPI() ([]byte, error) {
	base, err := readJSON("openapi/base.json")
	if err != nil {
		return nil, err
	}
	paths := map[string]any{}
	schemas := map[string]any{}
	entries, _ := fs.ReadDir(openapiFS, "openapi")
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		if e.Name() != "base.json" {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	for _, n := range names {
		frag, err := readJSON("openapi/" + n)
		if err != nil {
			return nil, err
		}
		if err := mergeInto(paths, frag["paths"], n); err != nil {
			return nil, err
		}
		if comp, ok := frag["components"].(map[string]any); ok {
			if err := mergeInto(schemas, comp["schemas"], n); err != nil {
				return nil, err
			}
		}
	}
	base["paths"] = paths
	comp, _ := base["components"].(map[string]any)
	if comp == nil {
		comp = map[string]any{}
	}
	baseSchemas, _ := comp["schemas"].(map[string]any)
	for k, v := range baseSchemas {
		schemas[k] = v
	}
	comp["schemas"] = schemas
	base["components"] = comp
	return json.MarshalIndent(base, "", "  ")
}

func readJSON(name string) (map[string]any, error) {
	b, err := openapiFS.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("openapi: %s: %w", name, err)
	}
	return m, nil
}

// mergeInto adds src's keys to dst; a path in two fragments merges its
// methods, and a method or schema defined twice is an error.
func mergeInto(dst map[string]any, src any, from string) error {
	m, _ := src.(map[string]any)
	for k, v := range m {
		old, exists := dst[k]
		if !exists {
			dst[k] = v
			continue
		}
		om, ok1 := old.(map[string]any)
		nm, ok2 := v.(map[string]any)
		if !ok1 || !ok2 {
			return fmt.Errorf("openapi: %s: %q defined twice", from, k)
		}
		for method, op := range nm {
			if _, dup := om[method]; dup {
				return fmt.Errorf("openapi: %s: %s %s defined twice", from, method, k)
			}
			om[method] = op
		}
	}
	return nil
}
