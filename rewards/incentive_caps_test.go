package rewards_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"rmref/internal/auth"
	"rmref/rewards"
)

// Each cap kind at its edge: a 600-fen bounty against a 1000 limit pays
// 600, then 400 (200 capped with the reason), then the next period starts
// afresh.
func TestIncentiveCapEdges(t *testing.T) {
	testDBs(t, func(t *testing.T, f *incFix) {
		for _, c := range []struct {
			period           string
			first, sameLast  time.Time // inside one period; sameLast its last second
			next             time.Time // the next period's first instant
			wantNext, reason string
		}{
			{"day", incSH(11, 3, 0, 0, 0), incSH(11, 3, 23, 59, 59), incSH(11, 4, 0, 0, 0), "600", "cap_day"},
			{"week", incSH(11, 23, 0, 0, 0), incSH(11, 29, 23, 59, 59), incSH(11, 30, 0, 0, 0), "600", "cap_week"},
			{"month", incSH(11, 2, 0, 0, 0), incSH(11, 30, 23, 59, 59), incSH(12, 1, 0, 0, 0), "600", "cap_month"},
			{"campaign", incSH(11, 2, 0, 0, 0), incSH(11, 30, 23, 59, 59), incSH(12, 1, 0, 0, 0), "0", "cap_campaign"},
		} {
			t.Run(c.period, func(t *testing.T) {
				camp := f.campaign("CAP"+c.period, 30)
				f.plan(camp, nil, []rewards.IncentiveCap{{Period: c.period, Currency: "cash", Limit: 1000}},
					rewards.IncentiveRule{ID: "b", Kind: "bounty", Currency: "cash", Amount: 600})
				s := f.staff[0]
				f.credit(camp, s, "account_opened", whole, 0, c.first)
				f.credit(camp, s, "account_opened", whole, 0, c.sameLast)
				f.credit(camp, s, "account_opened", whole, 0, c.next)
				ls := f.lines(camp, s, time.Time{})
				got := []string{itoa(ls[0].Amount), itoa(ls[1].Amount), itoa(ls[1].Capped), ls[1].CappedReason, itoa(ls[2].Amount)}
				incWant(t, "lines", got, []string{"600", "400", "200", c.reason, c.wantNext})
				incWant(t, "capped", f.summary(camp, s, time.Time{}).CappedFen, 200+600-atoi(c.wantNext))
			})
		}
	})
}

func atoi(s string) int64 {
	var n int64
	for _, c := range s {
		n = n*10 + int64(c-'0')
	}
	return n
}

// Fifty conversions in fifty concurrent transactions against a budget of
// 1000 fen with a 30-fen bounty: 33 pay 30, one pays the last 10, the rest
// are capped by the budget; not a fen more is spent.
func TestIncentiveBudgetConcurrent(t *testing.T) {
	testDBs(t, func(t *testing.T, f *incFix) {
		camp := f.campaign("BUDGET", 30)
		f.plan(camp, i64p(1000), nil, rewards.IncentiveRule{ID: "b", Kind: "bounty", Currency: "cash", Amount: 30})
		ctx := context.Background()
		var wg sync.WaitGroup
		errs := make(chan error, 50)
		for i := 0; i < 50; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				s := f.staff[i%3]
				ev := rewards.CreditEvent{CreditID: int64(5000 + i), ConversionID: int64(9000 + i), CampaignID: camp, StaffID: s, ConversionType: "account_opened",
					Weight: whole, OccurredAt: incSH(11, 5, 10, 0, i), Chain: rewards.CreditChain{UnitID: f.teamOf[s], TeamID: f.teamOf[s], BranchID: f.branch}}
				errs <- f.d.WithTx(ctx, func(tx *sqlx.Tx) error { return f.svc.OnCredits(ctx, tx, []rewards.CreditEvent{ev}) })
			}(i)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("credit: %v", err)
			}
		}
		sum, err := f.svc.CampaignSummary(ctx, f.hqA, camp, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		incWant(t, "budget", []int64{sum.PendingFen, sum.CappedFen, sum.UsedFen, *sum.LeftFen}, []int64{1000, 500, 1000, 0})
		var lines, partial int
		if err := f.d.GetContext(ctx, &lines, `SELECT COUNT(*) FROM incentive_earnings WHERE campaign_id = ?`, camp); err != nil {
			t.Fatal(err)
		}
		if err := f.d.GetContext(ctx, &partial, `SELECT COUNT(*) FROM incentive_earnings WHERE campaign_id = ? AND amount = 10 AND capped = 20 AND capped_reason = 'budget'`, camp); err != nil {
			t.Fatal(err)
		}
		incWant(t, "lines", []int{lines, partial}, []int{50, 1})
	})
}

// Holding period: the conversion day is day 1 and day 30 ends at 00:00 of
// day 31 in Shanghai. A reversal inside it cancels (a partial one in
// proportion, by largest remainder); one after it claws back.
func TestIncentiveHoldingCancelVsClawback(t *testing.T) {
	testDBs(t, func(t *testing.T, f *incFix) {
		camp := f.campaign("HOLD", 30)
		f.plan(camp, i64p(100000), nil,
			rewards.IncentiveRule{ID: "b", Kind: "bounty", Currency: "cash", Amount: 1001},
			rewards.IncentiveRule{ID: "p", Kind: "percentage", Currency: "cash", RateBP: 900})
		s := f.staff[0]
		a := f.credit(camp, s, "wealth_purchase", whole, 100, incSH(11, 2, 23, 30, 0)) // 1001 + 9
		ls := f.lines(camp, s, time.Time{})
		incWant(t, "approves at", ls[0].ApprovesAt, incSH(12, 2, 0, 0, 0).UTC())
		incWant(t, "state on day 30", f.lines(camp, s, incSH(12, 1, 23, 59, 59))[0].State, rewards.StatePending)
		incWant(t, "state on day 31", f.lines(camp, s, incSH(12, 2, 0, 0, 0))[0].State, rewards.StateApproved)

		f.clk.Set(incSH(11, 10, 9, 0, 0))
		f.reverse(a, 50, false, incSH(11, 10, 9, 0, 0)) // half of 1010 = 505: 500.5 → 501 (tie to the first), 4.5 → 4
		ls = f.lines(camp, s, time.Time{})
		got := []string{}
		for _, l := range ls {
			got = append(got, l.Entry+":"+itoa(l.Amount)+":"+l.State)
		}
		incWant(t, "partial cancel", got, []string{"earning:1001:pending", "earning:9:pending", "cancel:-501:cancelled", "cancel:-4:cancelled"})
		sum := f.summary(camp, s, time.Time{})
		incWant(t, "after cancel", []int64{sum.PendingFen, sum.CancelledFen}, []int64{505, 505})

		// The rest is reversed after approval: a clawback of what is left.
		f.clk.Set(incSH(12, 10, 9, 0, 0))
		f.reverse(a, 50, false, incSH(12, 10, 9, 0, 0))
		sum = f.summary(camp, s, time.Time{})
		incWant(t, "after clawback", []int64{sum.PendingFen, sum.ApprovedFen, sum.ClawedBackFen, sum.OwedFen}, []int64{0, 0, 505, 0})
		before := f.summary(camp, s, incSH(12, 9, 0, 0, 0))
		incWant(t, "at= before the clawback", []int64{before.ApprovedFen, before.ClawedBackFen}, []int64{505, 0})
		budget, _ := f.svc.CampaignSummary(context.Background(), f.hqA, camp, time.Time{})
		incWant(t, "budget given back", budget.UsedFen, int64(0))
	})
}

func TestIncentiveMakerChecker(t *testing.T) {
	testDBs(t, func(t *testing.T, f *incFix) {
		ctx := context.Background()
		camp := f.campaign("MC", 30)
		in := rewards.IncentivePlanInput{CampaignID: camp, Rules: []rewards.IncentiveRule{{ID: "b", Kind: "bounty", Currency: "cash", Amount: 100}}}
		staff := auth.Principal{StaffID: f.staff[0], Roles: []auth.Role{auth.RoleStaff}}
		if _, err := f.svc.ProposePlan(ctx, staff, in); err == nil {
			t.Fatal("staff proposed a plan")
		}
		p, err := f.svc.ProposePlan(ctx, f.cmA, in)
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.ApprovePlan(ctx, f.cmA, p.ID)
		incSlug(t, err, "self_approval")
		if p, err = f.svc.ApprovePlan(ctx, f.hqA, p.ID); err != nil || p.Status != rewards.PlanApproved {
			t.Fatalf("hq approval: %v %v", p.Status, err)
		}
		_, err = f.svc.ApprovePlan(ctx, f.cmB, p.ID)
		incSlug(t, err, "invalid_transition")

		// A later version applies to credits after its approval only.
		s := f.staff[1]
		f.clk.Set(incSH(11, 2, 9, 0, 0))
		f.credit(camp, s, "account_opened", whole, 0, incSH(11, 2, 9, 0, 0))
		in.Rules[0].Amount = 200
		p2, err := f.svc.ProposePlan(ctx, f.cmB, in)
		if err != nil {
			t.Fatal(err)
		}
		f.clk.Set(incSH(11, 3, 9, 0, 0))
		if _, err := f.svc.ApprovePlan(ctx, f.cmA, p2.ID); err != nil {
			t.Fatal(err)
		}
		f.credit(camp, s, "account_opened", whole, 0, incSH(11, 3, 8, 0, 0)) // before v2's approval: v1
		f.credit(camp, s, "account_opened", whole, 0, incSH(11, 3, 10, 0, 0))
		incWant(t, "versions", f.amounts(camp, s), []string{"b:100", "b:100", "b:200"})

		var audits int
		if err := f.d.GetContext(ctx, &audits, `SELECT COUNT(*) FROM audit_log WHERE entity_type = 'incentive_plan'`); err != nil {
			t.Fatal(err)
		}
		incWant(t, "audited", audits, 4)
	})
}

// A credit delivered twice (a retried conversion) earns once.
func TestIncentiveCreditOnce(t *testing.T) {
	testDBs(t, func(t *testing.T, f *incFix) {
		camp := f.campaign("ONCE", 30)
		f.plan(camp, nil, nil, rewards.IncentiveRule{ID: "b", Kind: "bounty", Currency: "cash", Amount: 700})
		ctx := context.Background()
		ev := rewards.CreditEvent{CreditID: 42, ConversionID: 42, CampaignID: camp, StaffID: f.staff[0], ConversionType: "account_opened",
			Weight: whole, OccurredAt: incSH(11, 2, 10, 0, 0)}
		for i := 0; i < 2; i++ {
			if err := f.d.WithTx(ctx, func(tx *sqlx.Tx) error { return f.svc.OnCredits(ctx, tx, []rewards.CreditEvent{ev, ev}) }); err != nil {
				t.Fatal(err)
			}
		}
		incWant(t, "lines", f.amounts(camp, f.staff[0]), []string{"b:700"})
	})
}

// A reversed credit leaves tier and stage progress: the next credit pays
// as if it had never counted (re-attribution moves credits this way).
func TestIncentiveReversalUnwindsProgress(t *testing.T) {
	testDBs(t, func(t *testing.T, f *incFix) {
		camp := f.campaign("UNWIND", 30)
		f.plan(camp, nil, nil,
			rewards.IncentiveRule{ID: "back", Kind: "tier", Currency: "cash", ConversionType: "card_applied", Basis: "count", Mode: "back_to_first", Period: "month",
				Tiers: []rewards.IncentiveTier{{Threshold: 0, Amount: 100}, {Threshold: 3, Amount: 200}}},
			rewards.IncentiveRule{ID: "two", Kind: "stage", Currency: "points", ConversionType: "account_opened", Threshold: 2, Amount: 50})
		s, at := f.staff[0], incSH(11, 3, 9, 0, 0)
		f.clk.Set(at)
		var third, second int64
		for i := 0; i < 3; i++ {
			third = f.credit(camp, s, "card_applied", whole, 0, at) // 100, 100, 400
		}
		f.credit(camp, s, "account_opened", whole, 0, at)
		second = f.credit(camp, s, "account_opened", whole, 0, at)         // the bonus
		f.reverse(third, 0, true, at.Add(time.Hour))                       // cancel 400: back to 2 credits, entitled 200
		f.reverse(second, 0, true, at.Add(time.Hour))                      // cancel the bonus: back to 1 conversion
		f.credit(camp, s, "card_applied", whole, 0, at.Add(2*time.Hour))   // the third again: 3×200 − 200 = 400
		f.credit(camp, s, "account_opened", whole, 0, at.Add(2*time.Hour)) // the second again: the bonus again
		incWant(t, "lines", f.amounts(camp, s), []string{"back:100", "back:100", "back:400", "two:50", "back:-400", "two:-50", "back:400", "two:50"})
	})
}
