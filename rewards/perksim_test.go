package rewards_test

import (
	"fmt"
	"testing"
	"time"

	"rmref/internal/db"
	"rmref/internal/dbtest"
	"rmref/rewards"
)

// yearOfCoffee plays a year of 2026 for one cardholder: 3 purchases in each
// of the 53 natural weeks touching 2026 (the first one 99.00 yuan), a claim
// the day after every grant qualifies, and 3 points exchanges on the 5th,
// 6th and 7th of every month.
func yearOfCoffee(t *testing.T, f *fixture, cust string, primary bool) []rewards.PerkEventResult {
	t.Helper()
	f.approve(cust, cust+"c", sh(2026, 1, 1, 8, 0, 0), "gold", primary, true)
	var buys []rewards.CardEvent
	monday := sh(2025, 12, 29, 0, 0, 0)
	for w := 0; w < 53; w++ {
		ws := monday.AddDate(0, 0, 7*w)
		for d := 1; d <= 3; d++ {
			day := ws.AddDate(0, 0, d)
			if w == 0 {
				day = sh(2026, 1, d, 0, 0, 0)
			}
			fen := int64(1500)
			if w == 0 && d == 1 {
				fen = 9900
			}
			buys = append(buys, purchase(cust, cust+"c", day.Add(10*time.Hour), fen))
		}
	}
	f.batch(buys)
	var ex []rewards.PerkEventResult
	for m := time.January; m <= time.December; m++ {
		for d := 5; d <= 7; d++ {
			ex = append(ex, f.exchange(cust, cust+"c", sh(2026, m, d, 12, 0, 0)))
		}
	}
	if !primary {
		return ex
	}
	f.mustClaim(cust, "welcome", sh(2026, 1, 2, 9, 0, 0))
	f.must(rewards.CardEvent{Kind: rewards.EventCouponRedeemed, CustomerID: cust, CardID: cust + "c", OccurredAt: sh(2026, 1, 3, 9, 0, 0),
		CouponID: rewards.CouponID(rewards.GrantID(f.pid, "welcome"), 1)})
	for w := 0; w < 52; w++ {
		ws := monday.AddDate(0, 0, 7*w)
		claimOn := ws.AddDate(0, 0, 4)
		if w == 0 {
			claimOn = sh(2026, 1, 4, 0, 0, 0)
		}
		f.mustClaim(cust, "weekly-"+rewards.PerkDate(ws, shanghai), claimOn.Add(10*time.Hour))
	}
	return ex
}

func TestPerkYearReachingStageFive(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		yearOfCoffee(t, f, "star", true)
		l := f.ledger("star", sh(2026, 12, 31, 23, 59, 59))
		var got, want []string
		for _, g := range l.Grants {
			claimed := ""
			if g.ClaimedAt != nil {
				claimed = rewards.PerkDate(*g.ClaimedAt, shanghai)
			}
			key := g.Key
			if g.Rule == "exchange" {
				key = "exchange"
			}
			got = append(got, fmt.Sprintf("%s q%s c%s %s %d×%d", key, g.QualifiedOn, claimed, g.State, g.Coupons, g.ValueFen))
		}
		// Hand-derived: the welcome gift qualifies on 1 January (99.00 yuan) and is
		// claimed on 2 January; its 6 coupons are done by 2 March, one redeemed.
		want = append(want, "welcome q2026-01-01 c2026-01-02 expired 6×2600")
		monday := sh(2025, 12, 29, 0, 0, 0)
		exDays := map[string]bool{}
		for m := time.January; m <= time.December; m++ {
			for d := 5; d <= 7; d++ {
				exDays[rewards.PerkDate(sh(2026, m, d, 0, 0, 0), shanghai)] = true
			}
		}
		weekly := map[string]string{}
		for w := 0; w < 52; w++ {
			ws := monday.AddDate(0, 0, 7*w)
			q, c := ws.AddDate(0, 0, 3), ws.AddDate(0, 0, 4)
			if w == 0 {
				q, c = sh(2026, 1, 3, 0, 0, 0), sh(2026, 1, 4, 0, 0, 0)
			}
			// valid 30 days from the claim: still in effect on 31 December when claimed on or after 2 December
			state := "expired"
			if !c.Before(sh(2026, 12, 2, 0, 0, 0)) {
				state = "effective"
			}
			weekly[rewards.PerkDate(q, shanghai)] = fmt.Sprintf("weekly-%s q%s c%s %s 1×2600", rewards.PerkDate(ws, shanghai), rewards.PerkDate(q, shanghai), rewards.PerkDate(c, shanghai), state)
		}
		// Grants are listed by qualifying time: on the same day, exchanges (12:00)
		// come after weekly qualifications (10:00).
		for day := sh(2026, 1, 2, 0, 0, 0); day.Year() == 2026; day = day.AddDate(0, 0, 1) {
			ds := rewards.PerkDate(day, shanghai)
			if w, ok := weekly[ds]; ok {
				want = append(want, w)
			}
			if exDays[ds] {
				state := "expired"
				if ds >= "2026-12-02" {
					state = "effective"
				}
				want = append(want, fmt.Sprintf("exchange q%s c%s %s 1×2600", ds, ds, state))
			}
		}
		eq(t, "grant count", len(got), 1+52+36)
		for i := range max(len(got), len(want)) {
			if i >= len(got) || i >= len(want) || got[i] != want[i] {
				t.Fatalf("grant %d:\n got %v\nwant %v", i, at(got, i), at(want, i))
			}
		}
		w, _ := l.Grant("welcome")
		eq(t, "welcome coupon 1", w.CouponList[0].State, rewards.StateRedeemed)
		eq(t, "refused", l.Refused, []rewards.PerkRefusal{{Rule: "weekly", Key: "weekly-2026-12-28", QualifiedAt: sh(2026, 12, 31, 10, 0, 0).UTC(), Reason: "yearly_cap"}})
		eq(t, "icons", l.Map.Icons, 100)
		eq(t, "stage", l.Map.Stage, 5)
		eq(t, "icons missing", l.Map.IconsMissing, 0)
		if l.Map.NextStage != nil {
			t.Errorf("next stage %d after the last", *l.Map.NextStage)
		}
		// 12 (2 Jan) +1 (4 Jan) +3 (5–7 Jan) +1 (9 Jan) +1 (16 Jan) +1 (23 Jan) +1 (30 Jan) = 20
		eq(t, "stage 1 reached", rewards.PerkDate(l.Map.Stages[0].ReachedAt, shanghai), "2026-01-30")
		eq(t, "stage 5 reached", rewards.PerkDate(l.Map.Stages[4].ReachedAt, shanghai), "2026-12-25")
		// The programme summary on 31 December, hand-counted: weekly coupons claimed
		// from 2 December on (weeks of 30 Nov, 7, 14 and 21 Dec) and the December
		// exchanges are still in effect; one welcome coupon was redeemed.
		sum, err := f.svc.Summary(t.Context(), f.pid, sh(2026, 12, 31, 23, 59, 59))
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "summary rows", sum.Grants, []rewards.PerkSummaryRow{
			{Rule: "exchange", State: "effective", Grants: 3, Coupons: 3, ValueFen: 3 * 2600},
			{Rule: "exchange", State: "expired", Grants: 33, Coupons: 33, ValueFen: 33 * 2600},
			{Rule: "weekly", State: "effective", Grants: 4, Coupons: 4, ValueFen: 4 * 2600},
			{Rule: "weekly", State: "expired", Grants: 48, Coupons: 48, ValueFen: 48 * 2600},
			{Rule: "welcome", State: "expired", Grants: 1, Coupons: 6, ValueFen: 6 * 2600},
		})
		eq(t, "liability", sum.Liability, rewards.PerkLiability{OutstandingFen: 7 * 2600, RedeemedFen: 2600, ExpiredFen: 86 * 2600})
		eq(t, "stages", sum.Stages, []rewards.PerkStageCount{{1, 1}, {2, 1}, {3, 1}, {4, 1}, {5, 1}})
		eq(t, "cardholders and icons", []int{sum.Cardholders, sum.Icons}, []int{1, 100})
		mid := f.ledger("star", sh(2026, 1, 29, 23, 0, 0))
		eq(t, "stage on 29 January", fmt.Sprint(mid.Map.Icons, " icons, stage ", mid.Map.Stage, ", next ", *mid.Map.NextStage, " missing ", mid.Map.IconsMissing), "19 icons, stage 0, next 1 missing 1")
	})
}

func TestPerkYearReachingNothing(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ex := yearOfCoffee(t, f, "supp", false)
		for i, r := range ex {
			if len(r.Granted) != 0 || len(r.Refused) != 1 || r.Refused[0].Reason != "exchange_not_eligible" {
				t.Errorf("exchange %d of a supplementary card: %+v", i, r)
			}
		}
		l := f.ledger("supp", sh(2026, 12, 31, 23, 59, 59))
		eq(t, "grants", len(l.Grants), 0)
		eq(t, "refused", len(l.Refused), 0)
		eq(t, "map", fmt.Sprint(l.Map.Icons, l.Map.Stage, *l.Map.NextStage, l.Map.IconsMissing), "0 0 1 20")
		_, err := f.claim("supp", "welcome", sh(2026, 1, 2, 9, 0, 0))
		wantSlug(t, err, "not_found")
	})
}

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return "(none)"
}
