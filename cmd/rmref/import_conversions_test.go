package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestImportConversionsCLI: good rows are recorded, bad ones reported by
// line without stopping the import, a re-run records nothing twice, and
// check reconciles.
func TestImportConversionsCLI(t *testing.T) {
	e, out, _ := cliEnv(t)
	runCLI(t, e, out, "migrate")
	dir := t.TempDir()
	at := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	csvPath := filepath.Join(dir, "conv.csv")
	rows := []string{
		"source,external_id,type,customer_id,phone,amount_fen,channel,occurred_at",
		"wh,1,account_opened,C1,,0,online," + at,
		"wh,2,wealth_purchase,C2,138 0013 8000,1250000,offline," + at,
		"wh,3,card_approved,C1,,0,remote," + at,
		"wh,4,card_approved,C3,,12.5,remote," + at,
		"wh,5,card_approved,C3,,1,,",
	}
	if err := os.WriteFile(csvPath, []byte(strings.Join(rows, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	errPath := filepath.Join(dir, "errors.jsonl")
	e.args = []string{"import", "conversions", csvPath, "--errors", errPath}
	if err := run(context.Background(), e); err == nil || !strings.Contains(err.Error(), "2 rows failed") {
		t.Fatalf("import: %v", err)
	}
	if !strings.Contains(out.String(), "rows 5: recorded 3, already present 0, failed 2") {
		t.Fatalf("summary: %q", out.String())
	}
	b, _ := os.ReadFile(errPath)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 {
		t.Fatalf("error report: %q", b)
	}
	got := map[int]string{}
	for _, l := range lines {
		var r struct {
			Line  int    `json:"line"`
			Error string `json:"error"`
		}
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		got[r.Line] = r.Error
	}
	if !strings.Contains(got[5], "amount_fen") || !strings.Contains(got[6], "channel") {
		t.Fatalf("errors by line: %v", got)
	}
	out.Reset()
	e.args = []string{"import", "conversions", csvPath, "--errors", errPath}
	_ = run(context.Background(), e)
	if !strings.Contains(out.String(), "recorded 0, already present 3, failed 2") {
		t.Fatalf("re-run: %q", out.String())
	}
	jsonl := filepath.Join(dir, "conv.jsonl")
	line := `{"source":"wh","external_id":"j1","type":"account_opened","amount_fen":5,"channel":"online","occurred_at":"` + at + `","customer":{"customer_id":"C9"}}`
	if err := os.WriteFile(jsonl, []byte(line+"\n\n"+line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := runCLI(t, e, out, "import", "conversions", jsonl); !strings.Contains(got, "rows 2: recorded 1, already present 1, failed 0") {
		t.Fatalf("jsonl: %q", got)
	}
	if got := runCLI(t, e, out, "check"); !strings.Contains(got, "conversions 4") || !strings.Contains(got, "ok:") {
		t.Fatalf("check: %q", got)
	}
}
