package rewards_test

import (
	"fmt"
	"testing"
	"time"

	"rmref/rewards"
)

// exchanges returns n claimed one-cup exchange grants, one a day from 2 January 2026.
func exchanges(n int) []rewards.PerkClaim {
	out := make([]rewards.PerkClaim, n)
	for i := range out {
		at := sh(2026, 1, 2, 12, 0, 0).AddDate(0, 0, i)
		key := fmt.Sprintf("exchange-%d", i+1)
		out[i] = rewards.PerkClaim{Key: key, ClaimedAt: at, Terms: rewards.PerkGrantTerms{ID: rewards.GrantID(1, key), Key: key,
			Rule: "exchange", Kind: rewards.RuleExchange, Version: 1, Timezone: "Asia/Shanghai", QualifiedAt: at,
			Coupons: 1, ValueFen: 2600, CupsPerCoupon: 1, ValidityDays: 30}}
	}
	return out
}

func TestPerkStageThresholds(t *testing.T) {
	rules := rewards.PerkRules{ProgrammeID: 1, Versions: []rewards.PerkVersion{{Version: 1, EffectiveAt: sh(2025, 12, 1, 0, 0, 0),
		Config: rewards.CoffeeTemplate(product, "2026-01-01", "2026-12-31")}}}
	tests := []struct {
		icons, stage, next, missing int
		discount                    int
	}{
		{19, 0, 1, 1, 0}, {20, 1, 2, 15, 2500}, {34, 1, 2, 1, 2500}, {35, 2, 3, 25, 3000}, {59, 2, 3, 1, 3000},
		{60, 3, 4, 28, 3500}, {87, 3, 4, 1, 3500}, {88, 4, 5, 12, 4000}, {99, 4, 5, 1, 4000}, {100, 5, 0, 0, 5000},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d icons", tt.icons), func(t *testing.T) {
			l := rewards.EvaluatePerks(rewards.PerkInput{Rules: rules, CustomerID: "c", Claims: exchanges(tt.icons), At: sh(2026, 12, 31, 0, 0, 0)})
			m := l.Map
			eq(t, "icons", m.Icons, tt.icons)
			eq(t, "stage", m.Stage, tt.stage)
			eq(t, "stages reached", len(m.Stages), tt.stage)
			if tt.stage > 0 {
				last := m.Stages[tt.stage-1]
				eq(t, "discount", last.DiscountBP, tt.discount)
				eq(t, "reached on", rewards.PerkDate(last.ReachedAt, shanghai), rewards.PerkDate(sh(2026, 1, 1, 12, 0, 0).AddDate(0, 0, last.Icons), shanghai))
			}
			switch {
			case tt.next == 0 && m.NextStage != nil:
				t.Errorf("next stage = %d, want none", *m.NextStage)
			case tt.next > 0 && (m.NextStage == nil || *m.NextStage != tt.next):
				t.Errorf("next stage = %v, want %d", m.NextStage, tt.next)
			}
			eq(t, "icons missing", m.IconsMissing, tt.missing)
		})
	}
}

// TestPerkEvaluationIsPure checks that a ledger as of a date ignores events
// and claims after it.
func TestPerkEvaluationIsPure(t *testing.T) {
	rules := rewards.PerkRules{ProgrammeID: 1, Versions: []rewards.PerkVersion{{Version: 1, EffectiveAt: sh(2025, 12, 1, 0, 0, 0),
		Config: rewards.CoffeeTemplate(product, "2026-01-01", "2026-12-31")}}}
	l := rewards.EvaluatePerks(rewards.PerkInput{Rules: rules, CustomerID: "c", Claims: exchanges(30), At: sh(2026, 1, 11, 23, 0, 0)})
	eq(t, "icons by 11 January", l.Map.Icons, 10)
	eq(t, "grants", len(l.Grants), 10)
	eq(t, "first coupon", l.Grants[0].CouponList[0].State+" until "+l.Grants[0].CouponList[0].ValidUntil, "effective until 2026-01-31")
	l = rewards.EvaluatePerks(rewards.PerkInput{Rules: rules, CustomerID: "c", Claims: exchanges(1), At: sh(2026, 2, 1, 0, 0, 0)})
	eq(t, "expired on day 31", l.Grants[0].State, rewards.StateExpired)
}

// TestPerkMonthlyRuleProgrammeYear checks a configured variant: a monthly
// count rule (2 purchases a month) capped at 2 grants per programme year
// starting 1 April.
func TestPerkMonthlyRuleProgrammeYear(t *testing.T) {
	cfg := rewards.PerkConfig{Product: product, Timezone: "Asia/Shanghai", StartDate: "2026-04-01", YearBasis: rewards.YearProgramme,
		Rules: []rewards.PerkRule{{Slug: "monthly", Kind: rewards.RulePeriodic, Period: rewards.PeriodMonth, Purchases: 2, YearlyCap: 2,
			Coupons: 1, ValueFen: 1000, CupsPerCoupon: 1, ClaimDays: 10, ValidityDays: 30}}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	rules := rewards.PerkRules{ProgrammeID: 7, Versions: []rewards.PerkVersion{{Version: 1, EffectiveAt: sh(2026, 3, 1, 0, 0, 0), Config: cfg}}}
	yes := true
	es := []rewards.CardEvent{{EventID: "ap", Kind: rewards.EventCardApproved, CustomerID: "m", CardID: "k", OccurredAt: sh(2026, 3, 20, 0, 0, 0),
		Product: product, Tier: "classic", Primary: &yes, NewCustomer: &yes}}
	buys := []time.Time{sh(2026, 3, 30, 9, 0, 0), sh(2026, 3, 31, 9, 0, 0), // before the programme: nothing
		sh(2026, 4, 1, 9, 0, 0), sh(2026, 4, 30, 23, 59, 59), sh(2026, 5, 1, 0, 0, 0), sh(2026, 5, 20, 9, 0, 0),
		sh(2026, 6, 2, 9, 0, 0), sh(2026, 6, 3, 9, 0, 0), sh(2027, 4, 1, 9, 0, 0), sh(2027, 4, 2, 9, 0, 0)}
	for i, at := range buys {
		es = append(es, rewards.CardEvent{EventID: fmt.Sprintf("b%d", i), Kind: rewards.EventPurchase, CustomerID: "m", CardID: "k", OccurredAt: at, AmountFen: 100})
	}
	in := rewards.PerkInput{Rules: rules, CustomerID: "m", Events: es, At: sh(2027, 4, 5, 0, 0, 0)}
	first := rewards.EvaluatePerks(in)
	for _, key := range []string{"monthly-2026-04-01", "monthly-2026-05-01"} {
		g, ok := first.Grant(key)
		if !ok {
			t.Fatalf("no grant %s: %+v", key, first.Grants)
		}
		in.Claims = append(in.Claims, rewards.PerkClaim{Key: key, ClaimedAt: g.QualifiedAt.Add(time.Hour), Terms: g.PerkGrantTerms})
	}
	l := rewards.EvaluatePerks(in)
	var got []string
	for _, g := range l.Grants {
		got = append(got, g.Key+" "+g.QualifiedOn+" "+g.ClaimBy+" "+g.State)
	}
	eq(t, "grants", got, []string{"monthly-2026-04-01 2026-04-30 2026-05-09 expired", "monthly-2026-05-01 2026-05-20 2026-05-29 expired",
		"monthly-2027-04-01 2027-04-02 2027-04-11 claimable"})
	eq(t, "refused", len(l.Refused), 1)
	eq(t, "refused June", l.Refused[0].Key+" "+l.Refused[0].Reason, "monthly-2026-06-01 yearly_cap")

	// April's purchases arrive late, after May and June were granted and
	// claimed: the claimed grants stand and April finds the year full.
	late := in
	late.Events = append([]rewards.CardEvent{es[0]}, es[5:9]...) // May and June only
	late.Claims = nil
	early := rewards.EvaluatePerks(late)
	for _, g := range early.Grants {
		late.Claims = append(late.Claims, rewards.PerkClaim{Key: g.Key, ClaimedAt: g.QualifiedAt.Add(time.Hour), Terms: g.PerkGrantTerms})
	}
	eq(t, "claimed before April arrived", len(late.Claims), 2)
	late.Events = es[:9]
	l = rewards.EvaluatePerks(late)
	got = nil
	for _, g := range l.Grants {
		got = append(got, g.Key+" "+g.State)
	}
	eq(t, "late April", got, []string{"monthly-2026-05-01 expired", "monthly-2026-06-01 expired"})
	eq(t, "April refused", l.Refused[0].Key+" "+l.Refused[0].Reason, "monthly-2026-04-01 yearly_cap")
}
