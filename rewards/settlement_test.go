package rewards_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"rmref/rewards"
)

// settleFix: a campaign with a one-day holding period, a bounty of 1000
// fen and 5 points per conversion, and November conversions of 张三 (2) and
// 李四 (1).
func settleFix(t *testing.T, f *incFix) (camp int64, credits []int64) {
	t.Helper()
	camp = f.campaign("SETTLE", 1)
	f.plan(camp, nil, nil,
		rewards.IncentiveRule{ID: "cash", Kind: "bounty", Currency: "cash", Amount: 1000},
		rewards.IncentiveRule{ID: "pts", Kind: "bounty", Currency: "points", Amount: 5})
	credits = append(credits,
		f.credit(camp, f.staff[0], "account_opened", whole, 0, incSH(11, 10, 9, 0, 0)),
		f.credit(camp, f.staff[0], "account_opened", whole, 0, incSH(11, 29, 9, 0, 0)),
		f.credit(camp, f.staff[1], "account_opened", whole, 0, incSH(11, 30, 9, 0, 0))) // approved Dec 1 00:00: December
	return camp, credits
}

func batchLines(t *testing.T, f *incFix, id int64) []rewards.SettlementLine {
	t.Helper()
	var out []rewards.SettlementLine
	if err := f.svc.EachLine(context.Background(), f.hqA, id, func(l rewards.SettlementLine) error { out = append(out, l); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSettlementIdempotentAndImmutable(t *testing.T) {
	testDBs(t, func(t *testing.T, f *incFix) {
		ctx := context.Background()
		camp, credits := settleFix(t, f)
		f.clk.Set(incSH(11, 30, 23, 0, 0))
		_, _, err := f.svc.ProposeSettlement(ctx, f.hqA, camp, "2026-11")
		incSlug(t, err, "period_open")
		if _, _, err := f.svc.ProposeSettlement(ctx, f.cmA, camp, "2026-11"); err == nil {
			t.Fatal("a campaign manager proposed a batch")
		}

		f.clk.Set(incSH(12, 1, 9, 0, 0))
		b, created, err := f.svc.ProposeSettlement(ctx, f.hqA, camp, "2026-11")
		if err != nil || !created {
			t.Fatalf("propose: %v %v", created, err)
		}
		incWant(t, "batch", []int64{b.CashFen, b.Points, int64(b.StaffCount)}, []int64{2000, 10, 1})
		again, created, err := f.svc.ProposeSettlement(ctx, f.hqA, camp, "2026-11")
		if err != nil || created || again.ID != b.ID {
			t.Fatalf("idempotent: %v %v %v", again.ID, created, err)
		}
		_, err = f.svc.ApproveSettlement(ctx, f.hqA, b.ID)
		incSlug(t, err, "self_approval")
		if b, err = f.svc.ApproveSettlement(ctx, f.hqB, b.ID); err != nil || b.Status != rewards.BatchApproved {
			t.Fatalf("approve: %v", err)
		}
		_, err = f.svc.ApproveSettlement(ctx, f.hqA, b.ID)
		incSlug(t, err, "invalid_transition")
		sum := f.summary(camp, f.staff[0], time.Time{})
		incWant(t, "settled", []int64{sum.SettledFen, sum.SettledPoints, sum.ApprovedFen}, []int64{2000, 10, 0})

		// A reversal after settlement claws back; it never touches the
		// approved batch, and goes into December's, netted with 李四's
		// December line; 张三 has nothing to net against and owes it.
		f.clk.Set(incSH(12, 5, 9, 0, 0))
		f.reverse(credits[0], 0, true, incSH(12, 5, 9, 0, 0))
		sum = f.summary(camp, f.staff[0], time.Time{})
		incWant(t, "owed", []int64{sum.SettledFen, sum.ApprovedFen, sum.OwedFen, sum.OwedPoints}, []int64{2000, 0, 1000, 5})
		same, created, err := f.svc.ProposeSettlement(ctx, f.hqA, camp, "2026-11")
		if err != nil || created || same.ID != b.ID || same.CashFen != 2000 {
			t.Fatalf("approved batch changed: %+v %v %v", same, created, err)
		}
		incWant(t, "november lines", len(batchLines(t, f, b.ID)), 1)

		f.credit(camp, f.staff[0], "account_opened", whole/4, 0, incSH(12, 6, 9, 0, 0)) // 250 fen, 1.25 → 1 point
		f.clk.Set(incSH(12, 31, 16, 0, 0))
		_, _, err = f.svc.ProposeSettlement(ctx, f.hqA, camp, "2026-12")
		incSlug(t, err, "period_open")
		f.clk.Set(incSH(1, 1, 0, 0, 0).AddDate(1, 0, 0))
		dec, created, err := f.svc.ProposeSettlement(ctx, f.hqA, camp, "2026-12")
		if err != nil || !created {
			t.Fatalf("december: %v %v", created, err)
		}
		got := batchLines(t, f, dec.ID)
		incWant(t, "december", got, []rewards.SettlementLine{
			{StaffID: f.staff[0], EmployeeNo: "E001", Name: "张三", UnitPath: "总行/上海分行/一组", OwedFen: 750, OwedPoints: 4},
			{StaffID: f.staff[1], EmployeeNo: "E002", Name: "李四", UnitPath: "总行/上海分行/一组", CashFen: 1000, Points: 5, Lines: 2},
		})
		if _, err := f.svc.ApproveSettlement(ctx, f.hqB, dec.ID); err != nil {
			t.Fatal(err)
		}
		sum = f.summary(camp, f.staff[0], time.Time{})
		incWant(t, "still owed, settled untouched", []int64{sum.SettledFen, sum.OwedFen}, []int64{2000, 750})
	})
}

func TestSettlementExports(t *testing.T) {
	testDBs(t, func(t *testing.T, f *incFix) {
		ctx := context.Background()
		camp, _ := settleFix(t, f)
		f.clk.Set(incSH(12, 2, 9, 0, 0))
		b, _, err := f.svc.ProposeSettlement(ctx, f.hqA, camp, "2026-11")
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := f.svc.WriteBatchCSV(ctx, f.hqA, b.ID, &buf); err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(buf.Bytes(), []byte{0xEF, 0xBB, 0xBF}) {
			t.Fatalf("no BOM: % x", buf.Bytes()[:3])
		}
		rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(buf.String(), "\ufeff"))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		incWant(t, "csv", rows, [][]string{
			{"employee_no", "name", "unit_path", "cash_fen", "cash_yuan", "points", "clawback_fen", "clawback_points", "owed_fen", "owed_points", "lines"},
			{"E001", "张三", "总行/上海分行/一组", "2000", "20.00", "10", "0", "0", "0", "0", "4"},
		})
		buf.Reset()
		if err := f.svc.WriteBatchJSONL(ctx, f.hqA, b.ID, &buf); err != nil {
			t.Fatal(err)
		}
		var l rewards.SettlementLine
		if err := json.Unmarshal(bytes.TrimSpace(buf.Bytes()), &l); err != nil {
			t.Fatal(err)
		}
		incWant(t, "jsonl", []any{l.Name, l.CashFen, l.Points}, []any{"张三", int64(2000), int64(10)})
		// Out of scope: a staff member cannot read batches.
		if err := f.svc.WriteBatchJSONL(ctx, f.cmA, b.ID, &buf); err == nil {
			t.Fatal("campaign manager read a batch")
		}
	})
}
