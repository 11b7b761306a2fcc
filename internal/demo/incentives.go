package demo

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"rmref/campaign"
	"rmref/internal/app"
	"rmref/internal/clock"
	"rmref/org"
	"rmref/rewards"
)

// demoHoldingDays is the demo campaign's incentive holding period: short
// enough that a demo started mid-month shows approved earnings beside
// pending ones.
const demoHoldingDays = 7

// seedIncentives gives the demo campaign a staff-incentive plan with a
// budget (proposed by one campaign manager, approved by the other at the
// campaign's start) and books credits for the first sales staff from the
// campaign's start until now, so that GET /api/v1/me/earnings shows
// approved (older than the holding period) and pending earnings. Credits
// that attribution already stored for the campaign are synced; the
// demo's own credits carry negative ids, which attribution never uses.
// Re-running adds nothing (seen credits are ignored).
func seedIncentives(ctx context.Context, a *app.App, o demoOrg) error {
	c, err := campaign.GetByCode(ctx, a.DB, demoCampaignCode)
	if err != nil {
		return fmt.Errorf("demo: incentives: %w", err)
	}
	if err := demoHolding(ctx, a, o, c); err != nil {
		return err
	}
	start := c.StartAt
	if err := demoIncentivePlan(ctx, a, o, c.ID, start); err != nil {
		return err
	}
	return demoCredits(ctx, a, o, c.ID, start)
}

func demoHolding(ctx context.Context, a *app.App, o demoOrg, c campaign.Campaign) error {
	if c.HoldingDays == demoHoldingDays {
		return nil
	}
	p, err := demoPrincipal(ctx, a, o.CampaignManager)
	if err != nil {
		return err
	}
	days := demoHoldingDays
	if _, err := campaign.NewService(a.DB, a.Clock, a.Config.LandingHosts).Update(ctx, p, c.ID, campaign.Patch{HoldingDays: &days}); err != nil {
		return fmt.Errorf("demo: incentives: holding period: %w", err)
	}
	return nil
}

// demoIncentivePlan proposes and approves the plan once, dated at the
// campaign's start so that it governs every demo credit.
func demoIncentivePlan(ctx context.Context, a *app.App, o demoOrg, campaignID int64, start time.Time) error {
	var n int
	if err := a.DB.GetContext(ctx, &n, `SELECT COUNT(*) FROM incentive_plans WHERE campaign_id = ? AND status = 'approved'`, campaignID); err != nil || n > 0 {
		return err
	}
	maker, err := demoPrincipal(ctx, a, o.CampaignManager)
	if err != nil {
		return err
	}
	checker, err := demoPrincipal(ctx, a, o.CampaignManager2)
	if err != nil {
		return err
	}
	svc := rewards.NewIncentives(a.DB, clock.NewManual(start))
	budget := int64(5_000_00)
	p, err := svc.ProposePlan(ctx, maker, rewards.IncentivePlanInput{CampaignID: campaignID, BudgetFen: &budget,
		Caps: []rewards.IncentiveCap{{Period: "day", Currency: "cash", Limit: 200_00}, {Period: "month", Currency: "cash", Limit: 1_500_00}},
		Rules: []rewards.IncentiveRule{
			{ID: "card-bounty", Kind: rewards.KindBounty, Currency: rewards.CurrencyCash, ConversionType: "card_approved", Amount: 50_00},
			{ID: "account-bounty", Kind: rewards.KindBounty, Currency: rewards.CurrencyCash, ConversionType: "account_opened", Amount: 10_00},
			{ID: "wealth-commission", Kind: rewards.KindPercentage, Currency: rewards.CurrencyCash, ConversionType: "wealth_purchase", RateBP: 30},
			{ID: "card-tiers", Kind: rewards.KindTier, Currency: rewards.CurrencyPoints, ConversionType: "card_approved", Basis: rewards.TierByCount,
				Mode: rewards.TierBackToFirst, Period: "month", Tiers: []rewards.IncentiveTier{{Threshold: 0, Amount: 10}, {Threshold: 5, Amount: 20}}},
			{ID: "five-conversions", Kind: rewards.KindStage, Currency: rewards.CurrencyPoints, Threshold: 5, Amount: 500},
			{ID: "team-pool", Kind: rewards.KindPool, Currency: rewards.CurrencyCash, UnitKind: "team", Period: "month", Amount: 300_00},
		}})
	if err != nil {
		return fmt.Errorf("demo: incentives: propose: %w", err)
	}
	if _, err := svc.ApprovePlan(ctx, checker, p.ID); err != nil {
		return fmt.Errorf("demo: incentives: approve: %w", err)
	}
	return nil
}

// demoCredits syncs attribution's credits of the campaign, then books the
// demo's own: for each of the first eight sales staff, a conversion every
// few days from the campaign's start, stamped by a clock at that time.
func demoCredits(ctx context.Context, a *app.App, o demoOrg, campaignID int64, start time.Time) error {
	var convs []int64
	if err := a.DB.SelectContext(ctx, &convs, `SELECT DISTINCT conversion_id FROM credits WHERE campaign_id = ? ORDER BY conversion_id`, campaignID); err != nil {
		return fmt.Errorf("demo: incentives: credits: %w", err)
	}
	now := a.Clock.Now()
	clk := clock.NewManual(now)
	svc := rewards.NewIncentives(a.DB, clk)
	for _, id := range convs {
		if err := a.DB.WithTx(ctx, func(tx *sqlx.Tx) error { return svc.SyncConversion(ctx, tx, id) }); err != nil {
			return fmt.Errorf("demo: incentives: sync %d: %w", id, err)
		}
	}
	types := []struct {
		typ string
		fen int64
	}{{"card_approved", 0}, {"account_opened", 0}, {"wealth_purchase", 2_000_000}, {"card_approved", 0}}
	chains := org.NewStore(a.DB.Dialect)
	for i, staff := range o.SalesStaff[:min(8, len(o.SalesStaff))] {
		for k := 0; ; k++ {
			at := start.Add(time.Duration(k*(2+i%3))*24*time.Hour + time.Duration(10+i)*time.Hour)
			if !at.Before(now) {
				break
			}
			ch, err := chains.ChainAt(ctx, a.DB, staff, at)
			if err != nil {
				return fmt.Errorf("demo: incentives: chain of %d: %w", staff, err)
			}
			t := types[(i+k)%len(types)]
			ev := rewards.CreditEvent{CreditID: -int64(i*1000 + k + 1), ConversionID: -int64(i*1000 + k + 1), CampaignID: campaignID, StaffID: staff,
				ConversionType: t.typ, Weight: rewards.WeightScale, CreditedFen: t.fen, OccurredAt: at,
				Chain: rewards.CreditChain{UnitID: ch.UnitID, TeamID: ch.TeamID, SubbranchID: ch.SubbranchID, BranchID: ch.BranchID, RegionID: ch.RegionID}}
			clk.Set(at)
			if err := a.DB.WithTx(ctx, func(tx *sqlx.Tx) error { return svc.OnCredits(ctx, tx, []rewards.CreditEvent{ev}) }); err != nil {
				return fmt.Errorf("demo: incentives: credit: %w", err)
			}
		}
	}
	return nil
}
