package rewards_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"rmref/internal/db"
	"rmref/internal/dbtest"
	"rmref/rewards"
)

func TestPerkWelcomeApprovalWindowAndAmount(t *testing.T) {
	approved := sh(2026, 1, 10, 15, 0, 0) // day 1; day 60 is 10 March
	tests := []struct {
		name string
		at   time.Time
		fen  int64
		want []string
	}{
		{"day 60, 99.00 yuan", sh(2026, 3, 10, 23, 59, 59), 9900, []string{"welcome:claimable"}},
		{"day 61, 99.00 yuan", sh(2026, 3, 11, 0, 0, 0), 9900, nil},
		{"day 1, 98.99 yuan", sh(2026, 1, 10, 16, 0, 0), 9899, nil},
		{"day 1, 99.00 yuan", sh(2026, 1, 10, 16, 0, 0), 9900, []string{"welcome:claimable"}},
	}
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				cust := string(rune('a'+i)) + "-cust"
				f.approve(cust, cust+"-card", approved, "gold", true, true)
				f.buy("", cust, cust+"-card", tt.at, tt.fen)
				eq(t, "grants", keys(f.ledger(cust, tt.at.Add(time.Hour))), tt.want)
			})
		}
		t.Run("any one purchase, not only the first", func(t *testing.T) {
			f.approve("z", "z1", approved, "gold", true, true)
			f.buy("z-small", "z", "z1", sh(2026, 1, 11, 9, 0, 0), 5000)
			f.buy("z-big", "z", "z1", sh(2026, 1, 20, 9, 0, 0), 12000)
			l := f.ledger("z", sh(2026, 1, 21, 0, 0, 0))
			eq(t, "grants", keys(l), []string{"welcome:claimable"})
			eq(t, "qualifying", l.Grants[0].QualifyingEvents, []string{"z-big"})
			eq(t, "claim by", l.Grants[0].ClaimBy, "2026-02-18")
		})
	})
}

func TestPerkWelcomeClaimWindow(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		for _, c := range []string{"last", "after"} {
			f.approve(c, c+"1", sh(2026, 1, 10, 10, 0, 0), "gold", true, true)
			f.buy("", c, c+"1", sh(2026, 1, 20, 12, 0, 0), 9900) // window: 20 Jan .. 18 Feb
		}
		g := f.mustClaim("last", "welcome", sh(2026, 2, 18, 23, 59, 59))
		eq(t, "state at the claim", g.State, rewards.StateEffective)
		eq(t, "expired later", keys(f.ledger("last", sh(2026, 4, 1, 0, 0, 0))), []string{"welcome:expired"})
		_, err := f.claim("after", "welcome", sh(2026, 2, 19, 0, 0, 0))
		wantSlug(t, err, "claim_window_closed")
		eq(t, "after at 18 Feb", keys(f.ledger("after", sh(2026, 2, 18, 23, 0, 0))), []string{"welcome:claimable"})
		eq(t, "after at 19 Feb", keys(f.ledger("after", sh(2026, 2, 19, 0, 0, 0))), []string{"welcome:lapsed"})
		// A lapsed grant is final: a later qualifying purchase within the 60 days changes nothing.
		f.buy("", "after", "after1", sh(2026, 2, 25, 12, 0, 0), 20000)
		l := f.ledger("after", sh(2026, 3, 1, 0, 0, 0))
		eq(t, "after a later purchase", keys(l), []string{"welcome:lapsed"})
		eq(t, "qualified on", l.Grants[0].QualifiedOn, "2026-01-20")
		_, err = f.claim("last", "welcome", sh(2026, 2, 18, 23, 59, 58))
		wantSlug(t, err, "already_claimed")
		if _, err := f.claim("last", "welcome", sh(2026, 2, 18, 23, 59, 59)); err != nil {
			t.Errorf("replayed claim: %v", err)
		}
	})
}

func TestPerkWelcomeActivationAndValidity(t *testing.T) {
	tests := []struct {
		name      string
		approved  time.Time
		claim     time.Time
		at        time.Time
		effective []string
		until     []string
		states    []string
	}{
		{"claim on the 15th", sh(2026, 1, 2, 9, 0, 0), sh(2026, 1, 15, 10, 0, 0), sh(2026, 1, 31, 23, 0, 0),
			[]string{"2026-01-15", "2026-02-01"}, []string{"2026-02-13", "2026-03-02"}, []string{"effective", "claimed"}},
		{"claim on 30 January, seen on 1 February", sh(2026, 1, 2, 9, 0, 0), sh(2026, 1, 30, 10, 0, 0), sh(2026, 2, 1, 0, 0, 0),
			[]string{"2026-01-30", "2026-02-01"}, []string{"2026-02-28", "2026-03-02"}, []string{"effective", "effective"}},
		{"claim in December rolls into January", sh(2026, 11, 20, 9, 0, 0), sh(2026, 12, 15, 10, 0, 0), sh(2027, 1, 14, 0, 0, 0),
			[]string{"2026-12-15", "2027-01-01"}, []string{"2027-01-13", "2027-01-30"}, []string{"expired", "effective"}},
	}
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				cust := string(rune('a'+i)) + "-act"
				f.approve(cust, cust+"1", tt.approved, "gold", true, true)
				f.buy("", cust, cust+"1", tt.approved.Add(2*time.Hour), 9900)
				f.mustClaim(cust, "welcome", tt.claim)
				g, _ := f.ledger(cust, tt.at).Grant("welcome")
				if len(g.CouponList) != 6 {
					t.Fatalf("coupons = %d", len(g.CouponList))
				}
				for k, c := range g.CouponList {
					tr := k / 3
					eq(t, c.ID+" effective", c.EffectiveOn, tt.effective[tr])
					eq(t, c.ID+" valid until", c.ValidUntil, tt.until[tr])
					eq(t, c.ID+" state", c.State, tt.states[tr])
					eq(t, c.ID+" value", c.ValueFen, 2600)
				}
			})
		}
	})
}

func TestPerkWeeklyWeeksAndCap(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		t.Run("Sunday 23:59:59 vs Monday 00:00 Shanghai, sent in UTC", func(t *testing.T) {
			for _, c := range []string{"sun", "mon"} {
				f.approve(c, c+"1", sh(2026, 1, 2, 9, 0, 0), "platinum", true, true)
				f.buy("", c, c+"1", sh(2026, 1, 9, 12, 0, 0), 1000)
				f.buy("", c, c+"1", sh(2026, 1, 10, 12, 0, 0), 1000)
			}
			f.buy("", "sun", "sun1", time.Date(2026, 1, 11, 15, 59, 59, 0, time.UTC), 1000)
			f.buy("", "mon", "mon1", time.Date(2026, 1, 11, 16, 0, 0, 0, time.UTC), 1000)
			l := f.ledger("sun", sh(2026, 1, 12, 12, 0, 0))
			eq(t, "sun", keys(l), []string{"weekly-2026-01-05:claimable"})
			eq(t, "platinum value", l.Grants[0].ValueFen, 2900)
			eq(t, "claim by", l.Grants[0].ClaimBy, "2026-01-17")
			eq(t, "mon", keys(f.ledger("mon", sh(2026, 1, 12, 12, 0, 0))), []string(nil))
		})
		t.Run("week across a month end", func(t *testing.T) {
			f.approve("me", "me1", sh(2026, 1, 2, 9, 0, 0), "gold", true, true)
			for _, day := range []time.Time{sh(2026, 1, 29, 8, 0, 0), sh(2026, 1, 31, 8, 0, 0), sh(2026, 2, 1, 8, 0, 0)} {
				f.buy("", "me", "me1", day, 500)
			}
			l := f.ledger("me", sh(2026, 2, 7, 23, 0, 0))
			eq(t, "grants", keys(l), []string{"weekly-2026-01-26:claimable"})
			eq(t, "qualified", l.Grants[0].QualifiedOn, "2026-02-01")
			eq(t, "claim by", l.Grants[0].ClaimBy, "2026-02-07")
			_, err := f.claim("me", "weekly-2026-01-26", sh(2026, 2, 8, 0, 0, 0))
			wantSlug(t, err, "claim_window_closed")
			f.mustClaim("me", "weekly-2026-01-26", sh(2026, 2, 7, 23, 59, 59))
		})
		t.Run("53 qualifying weeks in 2026, cap 52; a week across new year belongs to its qualifying day's year", func(t *testing.T) {
			weeklyYear(t, f, "y53", false, false)
			weeklyYear(t, f, "ny", false, true)
			weeklyYear(t, f, "lapse", true, false)
		})
	})
}

// weeklyYear buys 3 times in each of the 53 natural weeks touching 2026
// (29 Dec 2025 .. 3 Jan 2027) and claims each grant the day after it
// qualifies. lapseWeek10 leaves week 10 unclaimed (its slot frees);
// lastInNewYear moves the last week's third purchase to 2 January 2027.
func weeklyYear(t *testing.T, f *fixture, cust string, lapseWeek10, lastInNewYear bool) {
	t.Helper()
	f.approve(cust, cust+"1", sh(2026, 1, 1, 8, 0, 0), "gold", true, true)
	monday := sh(2025, 12, 29, 0, 0, 0)
	var lastKey string
	var buys []rewards.CardEvent
	type claim struct {
		key string
		at  time.Time
	}
	var claims []claim
	for w := 0; w < 53; w++ {
		ws := monday.AddDate(0, 0, 7*w)
		days := []time.Time{ws.AddDate(0, 0, 1), ws.AddDate(0, 0, 2), ws.AddDate(0, 0, 3)}
		if w == 0 {
			days = []time.Time{sh(2026, 1, 1, 0, 0, 0), sh(2026, 1, 2, 0, 0, 0), sh(2026, 1, 3, 0, 0, 0)}
		}
		if w == 52 && lastInNewYear {
			days[2] = sh(2027, 1, 2, 0, 0, 0)
		}
		for _, d := range days {
			buys = append(buys, purchase(cust, cust+"1", d.Add(10*time.Hour), 100))
		}
		key := "weekly-" + rewards.PerkDate(ws, shanghai)
		lastKey = key
		if w == 52 || (w == 10 && lapseWeek10) {
			continue
		}
		claims = append(claims, claim{key, days[2].AddDate(0, 0, 1).Add(10 * time.Hour)})
	}
	f.batch(buys)
	for _, c := range claims {
		f.mustClaim(cust, c.key, c.at)
	}
	at := sh(2027, 1, 3, 12, 0, 0)
	l := f.ledger(cust, at)
	weekly := 0
	for _, g := range l.Grants {
		if g.Rule == "weekly" {
			weekly++
		}
	}
	last, granted := l.Grant(lastKey)
	switch {
	case lastInNewYear:
		eq(t, cust+" weekly grants", weekly, 53)
		eq(t, cust+" last week", last.QualifiedOn+":"+last.State, "2027-01-02:claimable")
	case lapseWeek10:
		eq(t, cust+" weekly grants (one lapsed)", weekly, 53)
		eq(t, cust+" last week granted", granted, true)
		w10, _ := l.Grant("weekly-2026-03-09")
		eq(t, cust+" week 10", w10.State, rewards.StateLapsed)
	default:
		eq(t, cust+" weekly grants", weekly, 52)
		eq(t, cust+" last week granted", granted, false)
		eq(t, cust+" refused", l.Refused, []rewards.PerkRefusal{{Rule: "weekly", Key: "weekly-2026-12-28", QualifiedAt: sh(2026, 12, 31, 10, 0, 0).UTC(), Reason: "yearly_cap"}})
		_, err := f.claim(cust, lastKey, sh(2026, 12, 31, 10, 0, 0))
		wantSlug(t, err, "not_found")
	}
}

func TestPerkExchangeCaps(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		f.approve("x", "x1", sh(2026, 1, 1, 8, 0, 0), "gold", true, false) // existing customer: exchange is open to every primary
		var granted, refused []string
		for m := time.January; m <= time.December; m++ {
			for day := 1; day <= 4; day++ {
				r := f.exchange("x", "x1", sh(2026, m, day, 12, 0, 0))
				granted = append(granted, r.Granted...)
				for _, n := range r.Refused {
					refused = append(refused, n.Reason)
				}
			}
		}
		eq(t, "granted", len(granted), 36)
		eq(t, "refused", len(refused), 12)
		eq(t, "refusal", refused[0], "exchange_monthly_cap")
		l := f.ledger("x", sh(2026, 12, 31, 23, 0, 0))
		eq(t, "icons", l.Map.Icons, 36)
		eq(t, "stage", l.Map.Stage, 2)
		// The yearly cap: a programme allowing 5 a month stops at 36 in the year.
		cfg := rewards.CoffeeTemplate(product, "2026-01-01", "2027-12-31")
		cfg.Rules[2].MonthlyCap = 5
		p2 := approved(t, f, cfg, sh(2025, 12, 1, 0, 0, 0))
		f.approve("y", "y1", sh(2026, 1, 1, 8, 0, 0), "gold", true, false)
		var yearly []string
		count := 0
		for m := time.January; m <= time.August; m++ {
			for day := 1; day <= 5; day++ {
				r := f.exchange("y", "y1", sh(2026, m, day, 12, 0, 0))
				for _, g := range r.Granted {
					if g[:len(rewards.GrantID(p2, ""))] == rewards.GrantID(p2, "") {
						count++
					}
				}
				for _, n := range r.Refused {
					if n.ProgrammeID == p2 {
						yearly = append(yearly, n.Reason)
					}
				}
			}
		}
		eq(t, "granted under 5/month", count, 36)
		eq(t, "refused", yearly, []string{"exchange_yearly_cap", "exchange_yearly_cap", "exchange_yearly_cap", "exchange_yearly_cap"})
		r := f.exchange("y", "y1", sh(2027, 1, 1, 0, 0, 0))
		eq(t, "new year", len(r.Granted), 2)
	})
}

// approved creates and approves another programme of the fixture's product.
func approved(t *testing.T, f *fixture, cfg rewards.PerkConfig, from time.Time) int64 {
	t.Helper()
	now := f.clk.Now()
	f.clk.Set(from)
	defer f.clk.Set(now)
	p, err := f.svc.CreateProgramme(t.Context(), cm1, rewards.PerkProgrammeInput{Name: "Variant", Config: &cfg})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.ApproveVersion(t.Context(), cm2, p.ID, 1); err != nil {
		t.Fatal(err)
	}
	return p.ID
}

func TestPerkReversals(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		t.Run("welcome purchase reversed before the claim frees a later purchase", func(t *testing.T) {
			f.approve("r1", "r1c", sh(2026, 1, 5, 9, 0, 0), "gold", true, true)
			f.buy("r1-p1", "r1", "r1c", sh(2026, 1, 6, 9, 0, 0), 15000)
			f.reverse("r1", "r1c", "r1-p1", sh(2026, 1, 8, 9, 0, 0))
			eq(t, "after reversal", keys(f.ledger("r1", sh(2026, 1, 9, 0, 0, 0))), []string(nil))
			eq(t, "before reversal (at)", keys(f.ledger("r1", sh(2026, 1, 7, 0, 0, 0))), []string{"welcome:claimable"})
			f.buy("r1-p2", "r1", "r1c", sh(2026, 2, 20, 9, 0, 0), 9900)
			l := f.ledger("r1", sh(2026, 2, 21, 0, 0, 0))
			eq(t, "requalified", keys(l), []string{"welcome:claimable"})
			eq(t, "own window", l.Grants[0].ClaimBy, "2026-03-21")
		})
		t.Run("reversed after the claim, the grant stays", func(t *testing.T) {
			f.approve("r2", "r2c", sh(2026, 1, 5, 9, 0, 0), "gold", true, true)
			f.buy("r2-p1", "r2", "r2c", sh(2026, 1, 6, 9, 0, 0), 15000)
			f.mustClaim("r2", "welcome", sh(2026, 1, 7, 9, 0, 0))
			f.reverse("r2", "r2c", "r2-p1", sh(2026, 1, 8, 9, 0, 0))
			l := f.ledger("r2", sh(2026, 1, 9, 0, 0, 0))
			eq(t, "claimed stays", keys(l), []string{"welcome:effective"})
			eq(t, "icons", l.Map.Icons, 12)
		})
		t.Run("weekly purchase reversed before the claim drops the grant", func(t *testing.T) {
			f.approve("r3", "r3c", sh(2026, 1, 5, 9, 0, 0), "gold", true, true)
			for i, id := range []string{"r3-a", "r3-b", "r3-c"} {
				f.buy(id, "r3", "r3c", sh(2026, 1, 13+i, 9, 0, 0), 100)
			}
			f.reverse("r3", "r3c", "r3-b", sh(2026, 1, 16, 9, 0, 0))
			eq(t, "dropped", keys(f.ledger("r3", sh(2026, 1, 17, 0, 0, 0))), []string(nil))
			f.buy("r3-d", "r3", "r3c", sh(2026, 1, 18, 9, 0, 0), 100)
			l := f.ledger("r3", sh(2026, 1, 18, 10, 0, 0))
			eq(t, "requalified by the Sunday purchase", keys(l), []string{"weekly-2026-01-12:claimable"})
			eq(t, "qualifying", l.Grants[0].QualifyingEvents, []string{"r3-a", "r3-c", "r3-d"})
		})
	})
}

func TestPerkDuplicatesAndOrder(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		e := rewards.CardEvent{EventID: "dup-1", Kind: rewards.EventPurchase, CustomerID: "o1", CardID: "o1c", OccurredAt: sh(2026, 1, 6, 9, 0, 0), AmountFen: 9900}
		r := f.must(e)
		eq(t, "first", r.Status, "accepted")
		r = f.must(e)
		eq(t, "replay", r.Status, "duplicate")
		e.AmountFen = 10000
		_, err := f.ingest(e)
		wantSlug(t, err, "event_id_reused")
		_, err = f.ingest(rewards.CardEvent{Kind: rewards.EventPurchase, CustomerID: "o1", CardID: "o1c", OccurredAt: f.clk.Now().Add(6 * time.Minute), AmountFen: 1})
		wantSlug(t, err, "future_time")
		// A refused item of a batch changes nothing, not even the cardholder list.
		items, err := f.svc.IngestBatch(t.Context(), cardSys, []rewards.CardEvent{
			{EventID: "b-ok", Kind: rewards.EventPurchase, CustomerID: "o1", CardID: "o1c", OccurredAt: sh(2026, 1, 7, 9, 0, 0), AmountFen: 100, Product: "ignored"},
			{EventID: "b-ghost", Kind: rewards.EventCouponRedeemed, CustomerID: "ghost", CardID: "g", OccurredAt: sh(2026, 1, 7, 9, 0, 0), CouponID: rewards.CouponID(rewards.GrantID(f.pid, "welcome"), 1)},
		})
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "batch ok", items[0].Result.Status, "accepted")
		wantSlug(t, items[1].Err, "coupon_not_redeemable")
		_, err = f.svc.Perks(t.Context(), "ghost", 0, f.clk.Now())
		wantSlug(t, err, "not_found")
		r = f.must(rewards.CardEvent{EventID: "b-ok", Kind: rewards.EventPurchase, CustomerID: "o1", CardID: "o1c", OccurredAt: sh(2026, 1, 7, 9, 0, 0), AmountFen: 100, Product: "ignored"})
		eq(t, "replay of a purchase that named a product", r.Status, "duplicate")

		// The same history sent in two orders gives the same ledger.
		approve := func(c string) rewards.CardEvent {
			return rewards.CardEvent{EventID: c + "-ap", Kind: rewards.EventCardApproved, CustomerID: c, CardID: c + "c", OccurredAt: sh(2026, 1, 5, 9, 0, 0), Product: product, Tier: "gold", Primary: bp(true), NewCustomer: bp(true)}
		}
		hist := func(c string) []rewards.CardEvent {
			out := []rewards.CardEvent{approve(c)}
			for i := 0; i < 6; i++ {
				out = append(out, rewards.CardEvent{EventID: fmtID(c, i), Kind: rewards.EventPurchase, CustomerID: c, CardID: c + "c", OccurredAt: sh(2026, 1, 12+i, 9, 0, 0), AmountFen: int64(5000 + 2000*i)})
			}
			return append(out, rewards.CardEvent{EventID: c + "-rv", Kind: rewards.EventPurchaseReversed, CustomerID: c, CardID: c + "c", OccurredAt: sh(2026, 1, 18, 9, 0, 0), PurchaseEventID: fmtID(c, 3)})
		}
		for _, e := range hist("in") {
			f.must(e)
		}
		h := hist("out")
		for i := len(h) - 1; i >= 0; i-- {
			f.must(h[i])
		}
		at := sh(2026, 1, 20, 0, 0, 0)
		a, b := f.ledger("in", at), f.ledger("out", at)
		// Purchases of 50, 70, 90, 110, 130, 150 yuan from Monday 12 January;
		// the 110 one (in-3) is reversed on Sunday 18 January, inside its
		// claim window, so the welcome gift moves to the 130 one.
		eq(t, "in order", keys(a), []string{"weekly-2026-01-12:claimable", "welcome:claimable"})
		eq(t, "out of order", keys(b), keys(a))
		eq(t, "weekly qualified by", b.Grants[0].QualifyingEvents, []string{"out-0", "out-1", "out-2"})
		eq(t, "welcome qualified by", a.Grants[1].QualifyingEvents, []string{"in-4"})
		eq(t, "welcome qualified on", b.Grants[1].QualifiedOn+" by "+b.Grants[1].ClaimBy, "2026-01-16 by 2026-02-14")
	})
}

func fmtID(c string, i int) string { return c + "-" + string(rune('0'+i)) }

func TestPerkEligibility(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		cases := []struct {
			cust           string
			primary, isNew bool
			want           []string
			exchange       int
		}{
			{"supp", false, true, nil, 0},
			{"existing", true, false, nil, 1},
			{"new", true, true, []string{"welcome:claimable", "weekly-2026-01-05:claimable"}, 1},
		}
		for _, c := range cases {
			f.approve(c.cust, c.cust+"c", sh(2026, 1, 5, 9, 0, 0), "gold", c.primary, c.isNew)
			for i := 0; i < 3; i++ {
				f.buy("", c.cust, c.cust+"c", sh(2026, 1, 6+i, 9, 0, 0), 20000)
			}
			r := f.exchange(c.cust, c.cust+"c", sh(2026, 1, 9, 9, 0, 0))
			l := f.ledger(c.cust, sh(2026, 1, 9, 10, 0, 0))
			var ks []string
			for _, k := range keys(l) {
				if k[:2] != "ex" {
					ks = append(ks, k)
				}
			}
			eq(t, c.cust+" grants", ks, c.want)
			eq(t, c.cust+" exchanges", len(r.Granted), c.exchange)
		}
	})
}

// TestPerkConcurrentExchanges sends six exchange requests of one month at
// once: the cardholder lock lets exactly three through.
func TestPerkConcurrentExchanges(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		f.approve("cc", "cc1", sh(2026, 1, 1, 8, 0, 0), "gold", true, false)
		results := make(chan int, 6)
		var wg sync.WaitGroup
		for i := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := f.svc.Ingest(t.Context(), cardSys, rewards.CardEvent{EventID: fmt.Sprintf("cc-x%d", i), Kind: rewards.EventExchange,
					CustomerID: "cc", CardID: "cc1", OccurredAt: sh(2026, 3, 10+i, 12, 0, 0), Points: 2600})
				if err != nil {
					t.Error(err)
				}
				results <- len(r.Granted)
			}()
		}
		wg.Wait()
		close(results)
		granted := 0
		for n := range results {
			granted += n
		}
		eq(t, "granted", granted, 3)
		eq(t, "icons", f.ledger("cc", sh(2026, 3, 31, 0, 0, 0)).Map.Icons, 3)
	})
}
