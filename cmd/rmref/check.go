package main

import (
	"context"
	"encoding/json"
	"fmt"

	"rmref/attribution"
	"rmref/internal/app"
)

// runCheck is `rmref check`: reconciles credits with conversion amounts
// and rollups with a rebuild from credits, printing every difference. It
// fails when there is one.
func runCheck(ctx context.Context, e env) error {
	fs := newFlags("check", e)
	asJSON := fs.Bool("json", false, "print the full report as JSON")
	cfg, err := loadConfig(fs, e, nil)
	if err != nil {
		return err
	}
	a, err := app.Open(ctx, cfg, nil, newLogger(e, cfg))
	if err != nil {
		return err
	}
	defer a.Shutdown(context.Background())
	rep, err := attribution.Check(ctx, a.DB)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		printCheck(e, rep)
	}
	if !rep.OK {
		return fmt.Errorf("check: %d credit sums and %d rollup cells differ", len(rep.Mismatches), len(rep.RollupDiffs))
	}
	return nil
}

func printCheck(e env, rep attribution.CheckReport) {
	fmt.Fprintf(e.stdout, "conversions %d, credits %d\n", rep.Conversions, rep.Credits)
	for _, m := range rep.Mismatches {
		fmt.Fprintf(e.stdout, "conversion %d campaign %d (%s): credits %d fen, want %d\n", m.ConversionID, m.CampaignID, m.Rule, m.CreditedFen, m.WantFen)
	}
	for _, d := range rep.RollupDiffs {
		fmt.Fprintf(e.stdout, "rollup campaign %d %s %d %s: %d fen / %d µw, rebuild %d fen / %d µw\n", d.CampaignID, d.Level, d.KeyID, d.Day,
			d.Rollup.CreditedFen, d.Rollup.WeightMicro, d.Rebuild.CreditedFen, d.Rebuild.WeightMicro)
	}
	if rep.OK {
		fmt.Fprintln(e.stdout, "ok: every conversion's credits sum to its amount, and rollups equal a rebuild from credits")
	}
}
