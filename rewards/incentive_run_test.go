package rewards_test

import (
	"context"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"rmref/rewards"
)

// Several credits of one staff member in one transaction (one run: tier
// and stage progress and cap usage read once, kept in the run, written
// once at the end) earn exactly what the same credits earn one
// transaction each.
func TestIncentiveCreditsInOneRun(t *testing.T) {
	testDBs(t, func(t *testing.T, f *incFix) {
		c := f.campaign("RUN", 30)
		f.plan(c, nil, []rewards.IncentiveCap{{Period: "day", Currency: "cash", Limit: 2500}},
			rewards.IncentiveRule{ID: "b", Kind: "bounty", Currency: "cash", Amount: 1000},
			rewards.IncentiveRule{ID: "t", Kind: "tier", Currency: "points", Basis: "count", Mode: "back_to_first", Period: "month",
				Tiers: []rewards.IncentiveTier{{Threshold: 0, Amount: 10}, {Threshold: 2, Amount: 20}}},
			rewards.IncentiveRule{ID: "s", Kind: "stage", Currency: "points", Threshold: 3, Amount: 500})
		at := incSH(11, 5, 9, 0, 0)
		var evs []rewards.CreditEvent
		for i := 0; i < 4; i++ {
			f.nextCredit++
			evs = append(evs, rewards.CreditEvent{CreditID: f.nextCredit, ConversionID: 1000 + f.nextCredit, CampaignID: c, StaffID: f.staff[0],
				ConversionType: "account_opened", Weight: whole, OccurredAt: at.Add(time.Duration(i) * time.Minute), Chain: rewards.CreditChain{TeamID: f.teams[0], BranchID: f.branch}})
		}
		ctx := context.Background()
		if err := f.d.WithTx(ctx, func(tx *sqlx.Tx) error { return f.svc.OnCredits(ctx, tx, evs) }); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 4; i++ {
			f.credit(c, f.staff[1], "account_opened", whole, 0, at.Add(time.Duration(i)*time.Minute))
		}
		one, each := f.amounts(c, f.staff[0]), f.amounts(c, f.staff[1])
		incWant(t, "one run vs one transaction each", one, each)
		// The day cap clamps the third bounty to 500 and the fourth to 0;
		// the stage pays once, on the third credit.
		var bounty, stage []string
		for _, a := range one {
			switch a[0] {
			case 'b':
				bounty = append(bounty, a)
			case 's':
				stage = append(stage, a)
			}
		}
		incWant(t, "bounties", bounty, []string{"b:1000", "b:1000", "b:500", "b:0"})
		incWant(t, "stage", stage, []string{"s:500"})
	})
}
