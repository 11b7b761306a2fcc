package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"rmref/internal/app"
	"rmref/internal/auth"
	"rmref/rewards"
)

// runSettle proposes (or finds) a campaign's settlement batch for a month,
// approves one, and exports it for payroll:
//
//	rmref settle --campaign CODE --period 2026-11 --as HQ1 [--out FILE] [--format csv|jsonl]
//	rmref settle --approve BATCH_ID --as HQ2
//
// --as names the hq_admin acting (maker-checker: the proposer may not approve).
func runSettle(ctx context.Context, e env) error {
	fs := newFlags("settle", e)
	campaign := fs.String("campaign", "", "campaign code (or id)")
	period := fs.String("period", "", "month to settle, YYYY-MM")
	as := fs.String("as", "", "employee number of the acting hq_admin")
	approve := fs.Int64("approve", 0, "approve this batch id instead of proposing")
	out := fs.String("out", "", "write the export to this file (default: stdout)")
	format := fs.String("format", "csv", "export format: csv (UTF-8 with BOM) or jsonl")
	demoMode := fs.Bool("demo", false, "use the demo secrets beside the database")
	cfg, err := loadConfig(fs, e, demoMode)
	if err != nil {
		return err
	}
	if *as == "" || (*approve == 0 && (*campaign == "" || *period == "")) {
		return errors.New("settle: --as and either --campaign with --period or --approve are required")
	}
	if *format != "csv" && *format != "jsonl" {
		return errors.New("settle: --format must be csv or jsonl")
	}
	a, err := app.Open(ctx, cfg, nil, newLogger(e, cfg))
	if err != nil {
		return err
	}
	defer a.Shutdown(context.Background())
	p, err := cliPrincipal(ctx, a, *as)
	if err != nil {
		return err
	}
	svc := rewards.NewIncentives(a.DB, a.Clock)
	if *approve > 0 {
		b, err := svc.ApproveSettlement(ctx, p, *approve)
		if err != nil {
			return fmt.Errorf("settle: %w", err)
		}
		fmt.Fprintf(e.stderr, "batch %d approved: %d staff, %s yuan, %d points\n", b.ID, b.StaffCount, rewards.Yuan(b.CashFen), b.Points)
		return nil
	}
	return proposeAndExport(ctx, e, a, svc, p, *campaign, *period, *out, *format)
}

func proposeAndExport(ctx context.Context, e env, a *app.App, svc *rewards.Incentives, p auth.Principal, campaign, period, out, format string) error {
	cid, err := campaignID(ctx, a, campaign)
	if err != nil {
		return err
	}
	b, created, err := svc.ProposeSettlement(ctx, p, cid, period)
	if err != nil {
		return fmt.Errorf("settle: %w", err)
	}
	verb := "existing"
	if created {
		verb = "new"
	}
	fmt.Fprintf(e.stderr, "%s batch %d (%s #%d, %s): %d staff, %s yuan, %d points\n", verb, b.ID, b.Period, b.Seq, b.Status, b.StaffCount, rewards.Yuan(b.CashFen), b.Points)
	var w io.Writer = e.stdout
	if out != "" {
		f, err := os.Create(out)
		if err != nil {
			return fmt.Errorf("settle: %w", err)
		}
		defer f.Close()
		w = f
	}
	if format == "jsonl" {
		return svc.WriteBatchJSONL(ctx, p, b.ID, w)
	}
	return svc.WriteBatchCSV(ctx, p, b.ID, w)
}

// cliPrincipal loads the acting staff member by employee number.
func cliPrincipal(ctx context.Context, a *app.App, emp string) (auth.Principal, error) {
	var row struct {
		ID  int64 `db:"id"`
		Ver int64 `db:"token_version"`
	}
	if err := a.DB.GetContext(ctx, &row, `SELECT id, token_version FROM staff WHERE employee_no = ?`, emp); err != nil {
		return auth.Principal{}, fmt.Errorf("settle: no staff member %q", emp)
	}
	return auth.LoadStaffPrincipal(ctx, a.DB, row.ID, row.Ver)
}

func campaignID(ctx context.Context, a *app.App, s string) (int64, error) {
	var id int64
	err := a.DB.GetContext(ctx, &id, `SELECT id FROM campaigns WHERE code = ?`, s)
	if err == nil {
		return id, nil
	}
	if n, perr := strconv.ParseInt(s, 10, 64); perr == nil && n > 0 {
		return n, nil
	}
	return 0, fmt.Errorf("settle: no campaign %q", s)
}
