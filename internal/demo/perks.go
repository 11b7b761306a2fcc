package demo

import (
	"context"
	"fmt"
	"time"

	"rmref/internal/app"
	"rmref/internal/auth"
	"rmref/internal/clock"
	"rmref/rewards"
)

// demoPerkProduct is the card product of the demo's coffee programme.
const demoPerkProduct = "luckin_cobrand"

// demoPerkDays is how many days of history the demo replays.
const demoPerkDays = 140

// demoPerkName names the demo's coffee programme (found by it on re-runs).
const demoPerkName = "瑞幸联名信用卡 · 全年最高畅饮100杯"

// seedPerks creates (or finds) the coffee programme, approved by a second
// campaign manager, and replays a few cardholders' histories so that
// GET /api/v1/cardholders/{id}/perks?at= shows grants in every state:
// D001 takes nearly every chance (stages reached, weekly grants effective,
// expired and lapsed, one coupon redeemed), D002 has a claimable welcome
// gift, D003 let it lapse, D004 redeemed a platinum weekly coupon, D005
// holds a supplementary card and gets nothing, and D006 claimed a welcome
// gift today (3 coupons in effect, 3 waiting for the 1st). The programme
// starts 140 days before the clock on the first run, and every time is
// relative to its start date, so re-running replays the same events
// (duplicates, nothing changes) and perks?at=<the first run's date> shows
// every state.
func seedPerks(ctx context.Context, a *app.App, o demoOrg) error {
	start, err := demoPerkProgramme(ctx, a, o)
	if err != nil {
		return fmt.Errorf("demo: perks: %w", err)
	}
	svc := rewards.NewPerkService(a.DB, a.Clock)
	h := demoPerkHistory{svc: svc, start: start, now: a.Clock.Now(), pid: start.pid}
	for _, step := range []func(context.Context) error{h.star, h.fresh, h.lapsed, h.redeemer, h.supplementary, h.waiting} {
		if err := step(ctx); err != nil {
			return fmt.Errorf("demo: perks: %w", err)
		}
	}
	return nil
}

type demoPerkStart struct {
	pid int64
	day time.Time // 00:00 Asia/Shanghai of the programme's start date
}

// demoPerkProgramme finds the demo programme or creates it as of 140 days
// ago, proposed by one campaign manager and
// approved by the other on that day (a replayed clock), so that the
// replayed history falls under it.
func demoPerkProgramme(ctx context.Context, a *app.App, o demoOrg) (demoPerkStart, error) {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		return demoPerkStart{}, err
	}
	if s, found, err := findDemoPerkProgramme(ctx, a, loc); err != nil || found {
		return s, err
	}
	now := a.Clock.Now().In(loc)
	day := time.Date(now.Year(), now.Month(), now.Day()-demoPerkDays, 0, 0, 0, 0, loc)
	maker, err := demoPrincipal(ctx, a, o.CampaignManager)
	if err != nil {
		return demoPerkStart{}, err
	}
	checker, err := demoPrincipal(ctx, a, o.CampaignManager2)
	if err != nil {
		return demoPerkStart{}, err
	}
	then := rewards.NewPerkService(a.DB, clock.NewManual(day.Add(9*time.Hour)))
	p, err := then.CreateProgramme(ctx, maker, rewards.PerkProgrammeInput{Name: demoPerkName, Template: "coffee",
		Product: demoPerkProduct, StartDate: day.Format(time.DateOnly), Note: "co-branded card coffee programme (DOMAIN.md)"})
	if err != nil {
		return demoPerkStart{}, err
	}
	if _, err := then.ApproveVersion(ctx, checker, p.ID, 1); err != nil {
		return demoPerkStart{}, err
	}
	return demoPerkStart{pid: p.ID, day: day}, nil
}

func findDemoPerkProgramme(ctx context.Context, a *app.App, loc *time.Location) (demoPerkStart, bool, error) {
	svc := rewards.NewPerkService(a.DB, a.Clock)
	var after int64
	for {
		ps, next, err := svc.Programmes(ctx, after, 100)
		if err != nil {
			return demoPerkStart{}, false, err
		}
		for _, p := range ps {
			if p.Name == demoPerkName && p.Product == demoPerkProduct && len(p.Versions) > 0 {
				day, err := time.ParseInLocation(time.DateOnly, p.Versions[0].Config.StartDate, loc)
				return demoPerkStart{pid: p.ID, day: day}, err == nil, err
			}
		}
		if next == 0 {
			return demoPerkStart{}, false, nil
		}
		after = next
	}
}

// demoPerkHistory replays card events and claims relative to the start.
type demoPerkHistory struct {
	svc   *rewards.PerkService
	start demoPerkStart
	now   time.Time
	pid   int64
}

var (
	demoCards  = auth.Principal{ClientKey: "demo-card-system", ClientName: "demo card system"}
	demoPerksP = auth.Principal{ClientKey: "demo-perks-platform", ClientName: "demo perks platform"}
)

// at returns day d (0 = the start date) at hour h, Shanghai.
func (h demoPerkHistory) at(d, hour int) time.Time {
	return h.start.day.AddDate(0, 0, d).Add(time.Duration(hour) * time.Hour)
}

// send ingests the events that are not in the future.
func (h demoPerkHistory) send(ctx context.Context, es []rewards.CardEvent) error {
	var due []rewards.CardEvent
	for _, e := range es {
		if !e.OccurredAt.After(h.now) {
			due = append(due, e)
		}
	}
	if len(due) == 0 {
		return nil
	}
	items, err := h.svc.IngestBatch(ctx, demoCards, due)
	if err != nil {
		return err
	}
	for _, it := range items {
		if it.Err != nil {
			return it.Err
		}
	}
	return nil
}

// claim claims a grant when the time has come; replays are accepted.
func (h demoPerkHistory) claim(ctx context.Context, cust, key string, at time.Time) error {
	if at.After(h.now) {
		return nil
	}
	_, err := h.svc.Claim(ctx, demoPerksP, cust, rewards.GrantID(h.pid, key), at)
	return err
}

func demoApproval(cust, tier string, at time.Time, primary bool) rewards.CardEvent {
	p, n := primary, true
	return rewards.CardEvent{EventID: "demo-" + cust + "-approved", Kind: rewards.EventCardApproved, CustomerID: cust, CardID: cust + "-card",
		OccurredAt: at, Product: demoPerkProduct, Tier: tier, Primary: &p, NewCustomer: &n}
}

func demoPurchase(cust string, n int, at time.Time, fen int64) rewards.CardEvent {
	return rewards.CardEvent{EventID: fmt.Sprintf("demo-%s-p%03d", cust, n), Kind: rewards.EventPurchase, CustomerID: cust,
		CardID: cust + "-card", OccurredAt: at, AmountFen: fen, Merchant: "瑞幸咖啡"}
}

// star: approved on day 1, a 128-yuan purchase the same day, the welcome
// gift claimed on day 2 (one coupon redeemed on day 3); three purchases
// (Tuesday to Thursday) in every week, claimed on Fridays except every
// fourth week (lapsed); three points exchanges on the 5th–7th of every month.
func (h demoPerkHistory) star(ctx context.Context) error {
	const c = "D001"
	es := []rewards.CardEvent{demoApproval(c, "gold", h.at(1, 10), true), demoPurchase(c, 0, h.at(1, 12), 12800)}
	var fridays []time.Time
	var weeks []string
	loc := h.start.day.Location()
	for d := 1; d < demoPerkDays; d++ {
		day := h.at(d, 0)
		if day.Weekday() != time.Monday {
			continue
		}
		for k := 1; k <= 3; k++ {
			es = append(es, demoPurchase(c, len(es), h.at(d+k, 12), 3000))
		}
		weeks = append(weeks, "weekly-"+rewards.PerkDate(day, loc))
		fridays = append(fridays, h.at(d+4, 10))
	}
	for d := 1; d < demoPerkDays; d++ {
		if day := h.at(d, 12); day.Day() >= 5 && day.Day() <= 7 {
			es = append(es, rewards.CardEvent{EventID: fmt.Sprintf("demo-%s-x%03d", c, d), Kind: rewards.EventExchange,
				CustomerID: c, CardID: c + "-card", OccurredAt: day, Points: 2600})
		}
	}
	if err := h.send(ctx, es); err != nil {
		return err
	}
	if err := h.claim(ctx, c, "welcome", h.at(2, 10)); err != nil {
		return err
	}
	redeem := rewards.CardEvent{EventID: "demo-D001-r1", Kind: rewards.EventCouponRedeemed, CustomerID: c, CardID: c + "-card",
		OccurredAt: h.at(3, 9), CouponID: rewards.CouponID(rewards.GrantID(h.pid, "welcome"), 1)}
	if err := h.send(ctx, []rewards.CardEvent{redeem}); err != nil {
		return err
	}
	for i, key := range weeks {
		if i%4 == 3 {
			continue
		}
		if err := h.claim(ctx, c, key, fridays[i]); err != nil {
			return err
		}
	}
	return nil
}

// fresh: approved on day 120, a 120-yuan purchase on day 125: the welcome
// gift is claimable until day 154.
func (h demoPerkHistory) fresh(ctx context.Context) error {
	return h.send(ctx, []rewards.CardEvent{demoApproval("D002", "gold", h.at(120, 11), true), demoPurchase("D002", 1, h.at(125, 12), 12000)})
}

// lapsed: qualified on day 25 and never claimed: lapsed after day 54.
func (h demoPerkHistory) lapsed(ctx context.Context) error {
	return h.send(ctx, []rewards.CardEvent{demoApproval("D003", "gold", h.at(20, 11), true), demoPurchase("D003", 1, h.at(25, 12), 9900)})
}

// redeemer: a platinum cardholder completes the week of day 90 (three
// purchases), claims the 29-yuan coupon and redeems it the next day.
func (h demoPerkHistory) redeemer(ctx context.Context) error {
	const c = "D004"
	monday := rewards.PerkWeekStart(h.at(90, 0), h.start.day.Location())
	d0 := int(monday.Sub(h.start.day).Hours() / 24)
	es := []rewards.CardEvent{demoApproval(c, "platinum", h.at(60, 11), true)}
	for k := 0; k < 3; k++ {
		es = append(es, demoPurchase(c, k, h.at(d0+k, 12), 2500))
	}
	if err := h.send(ctx, es); err != nil {
		return err
	}
	key := "weekly-" + rewards.PerkDate(monday, h.start.day.Location())
	if err := h.claim(ctx, c, key, h.at(d0+3, 10)); err != nil {
		return err
	}
	return h.send(ctx, []rewards.CardEvent{{EventID: "demo-D004-r1", Kind: rewards.EventCouponRedeemed, CustomerID: c, CardID: c + "-card",
		OccurredAt: h.at(d0+4, 9), CouponID: rewards.CouponID(rewards.GrantID(h.pid, key), 1)}})
}

// supplementary: a supplementary card buys like the star and gets nothing.
func (h demoPerkHistory) supplementary(ctx context.Context) error {
	es := []rewards.CardEvent{demoApproval("D005", "gold", h.at(30, 11), false)}
	for k := 0; k < 9; k++ {
		es = append(es, demoPurchase("D005", k, h.at(32+k, 12), 15000))
	}
	return h.send(ctx, es)
}

// waiting: qualifies for the welcome gift yesterday and claims it just
// after midnight today: 3 coupons take effect at once and 3 wait for the
// 1st of the next month.
func (h demoPerkHistory) waiting(ctx context.Context) error {
	es := []rewards.CardEvent{demoApproval("D006", "gold", h.at(100, 11), true), demoPurchase("D006", 1, h.at(demoPerkDays-1, 19), 9900)}
	if err := h.send(ctx, es); err != nil {
		return err
	}
	return h.claim(ctx, "D006", "welcome", h.at(demoPerkDays, 0).Add(time.Minute))
}
