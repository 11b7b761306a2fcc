package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"rmref/internal/auth"
	"rmref/internal/clock"
	"rmref/internal/db"
	"rmref/internal/testapp"
	"rmref/rewards"
)

// TestSettleCLI: settle proposes once (idempotent), exports CSV with the
// BOM, and refuses approval by the proposer.
func TestSettleCLI(t *testing.T) {
	e, out, path := cliEnv(t)
	runCLI(t, e, out, "migrate")
	ctx := context.Background()
	d, err := db.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	s := testapp.NewSeeder(t, d)
	hq := s.Unit("hq", "HQ", "总行", 0)
	rm := s.Staff("E001", "张三", hq)
	cm1 := auth.Principal{StaffID: s.Staff("CM1", "策划甲", hq, auth.RoleCampaignManager), Roles: []auth.Role{auth.RoleCampaignManager}}
	cm2 := auth.Principal{StaffID: s.Staff("CM2", "策划乙", hq, auth.RoleCampaignManager), Roles: []auth.Role{auth.RoleCampaignManager}}
	s.Staff("HQ1", "总部甲", hq, auth.RoleHQAdmin)
	s.Staff("HQ2", "总部乙", hq, auth.RoleHQAdmin)
	res, err := d.ExecContext(ctx, `INSERT INTO campaigns (code, name, description, status, start_at, end_at, timezone, landing_url, holding_days, created_at, updated_at)
VALUES ('AUTUMN', '秋季', '', 'active', 0, 1, 'Asia/Shanghai', 'https://bank.example/l', 1, 0, 0)`)
	if err != nil {
		t.Fatal(err)
	}
	cid, _ := res.LastInsertId()
	svc := rewards.NewIncentives(d, clock.NewManual(time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)))
	p, err := svc.ProposePlan(ctx, cm1, rewards.IncentivePlanInput{CampaignID: cid, Rules: []rewards.IncentiveRule{{ID: "b", Kind: "bounty", Currency: "cash", Amount: 1234}}})
	if err == nil {
		_, err = svc.ApprovePlan(ctx, cm2, p.ID)
	}
	if err == nil {
		ev := rewards.CreditEvent{CreditID: 1, ConversionID: 1, CampaignID: cid, StaffID: rm, ConversionType: "account_opened", Weight: rewards.WeightScale,
			OccurredAt: time.Date(2026, 10, 5, 0, 0, 0, 0, time.UTC)}
		err = d.WithTx(ctx, func(tx *sqlx.Tx) error { return svc.OnCredits(ctx, tx, []rewards.CreditEvent{ev}) })
	}
	if err != nil {
		t.Fatal(err)
	}
	vars := e.getenv
	e.getenv = func(k string) string {
		if k == "RMREF_NOW" {
			return "2026-11-05T00:00:00Z"
		}
		return vars(k)
	}
	got := runCLI(t, e, out, "settle", "--campaign", "AUTUMN", "--period", "2026-10", "--as", "HQ1")
	want := "\ufeffemployee_no,name,unit_path,cash_fen,cash_yuan,points,clawback_fen,clawback_points,owed_fen,owed_points,lines\nE001,张三,总行,1234,12.34,0,0,0,0,0,1\n"
	if got != want {
		t.Fatalf("csv %q", got)
	}
	runCLI(t, e, out, "settle", "--campaign", "AUTUMN", "--period", "2026-10", "--as", "HQ1", "--format", "jsonl")
	var batches int
	if err := d.GetContext(ctx, &batches, `SELECT COUNT(*) FROM settlement_batches`); err != nil || batches != 1 {
		t.Fatalf("batches %d %v", batches, err)
	}
	e.args = []string{"settle", "--approve", "1", "--as", "HQ1"}
	if err := run(ctx, e); err == nil || !strings.Contains(err.Error(), "own proposal") {
		t.Fatalf("self approval: %v", err)
	}
	runCLI(t, e, out, "settle", "--approve", "1", "--as", "HQ2")
}
