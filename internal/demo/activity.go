package demo

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math/rand"
	"net/url"
	"time"

	"rmref/attribution"
	"rmref/customer"
	"rmref/internal/app"
	"rmref/internal/clock"
	"rmref/referral"
	"rmref/rewards"
)

// Demo activity: a month of customers reached by share links, call-centre
// and branch touches, who link identities, convert and sometimes reverse.
const (
	activitySource    = "demo_core"     // source system of the demo's conversions and touches
	activityIdentity  = "demo_app"      // source of the demo's identity links
	activityCustomers = 160             // customers simulated
	activitySeed      = 20261123        // math/rand seed: the same plan every run
	activityActor     = "system:demo"   // audit actor
	activityDays      = 30              // days of activity before now
	activityBotUA     = "Googlebot/2.1" // a crawler following shared links
)

// demoTouchKinds are the remote touches' kinds; offline touches are
// branch visits.
var demoTouchKinds = []string{"call", "sms", "wecom"}

// demoJourney is one simulated customer's plan.
type demoJourney struct {
	No        string // customer id
	VisitorID string // "" when the customer never clicked
	Staff     int64  // the sales staff member whose link or branch they met
	Clicks    []demoClick
	Touches   []demoTouch
	Link      bool // links visitor id and customer id before converting
	Token     bool // converts with the click's referral token
	Code      bool // converts entering the staff member's invitation code
	Convs     []demoConv
	token     string // filled when the click is recorded
	code      string
}

type demoClick struct {
	At      time.Time
	Channel referral.Channel
	Bot     bool // a crawler fetches the link just after
}

type demoTouch struct {
	At      time.Time
	Staff   int64
	Channel string // remote or offline
	Kind    string
}

type demoConv struct {
	At      time.Time
	Type    string
	Fen     int64
	Channel string
	Reverse bool
}

// seedActivity simulates the month before now (from the campaign's start
// at the earliest): shares and clicks (some by bots) through the referral
// service, identity links, remote and offline touches, conversions of
// every counted type (some carrying a referral token or an invitation
// code) and a few reversals, all through attribution's service with the
// incentives listener. It does nothing once the demo's conversions exist.
func seedActivity(ctx context.Context, a *app.App, o demoOrg, c demoCampaign) error {
	var n int
	if err := a.DB.GetContext(ctx, &n, `SELECT COUNT(*) FROM conversions WHERE source = ?`, activitySource); err != nil {
		return fmt.Errorf("demo: activity: %w", err)
	}
	if n > 0 || len(o.SalesStaff) == 0 || len(o.Agents) == 0 {
		return nil
	}
	now := a.Clock.Now().UTC().Truncate(time.Second)
	from := now.AddDate(0, 0, -activityDays)
	if from.Before(c.StartAt) {
		from = c.StartAt
	}
	if !from.Before(now) {
		return nil
	}
	plan := planActivity(o, from, now)
	if err := seedClicks(ctx, a, c, plan); err != nil {
		return fmt.Errorf("demo: activity: clicks: %w", err)
	}
	if err := seedJourneys(ctx, a, o, plan); err != nil {
		return fmt.Errorf("demo: activity: %w", err)
	}
	return nil
}

// planActivity draws the customers' journeys from the fixed seed.
func planActivity(o demoOrg, from, now time.Time) []*demoJourney {
	rng := rand.New(rand.NewSource(activitySeed))
	span := now.Sub(from)
	at := func(after time.Time, max time.Duration) time.Time {
		t := after.Add(time.Duration(rng.Int63n(int64(max)))).Truncate(time.Second)
		if t.After(now) {
			t = now
		}
		return t
	}
	out := make([]*demoJourney, 0, activityCustomers)
	for i := range activityCustomers {
		j := &demoJourney{No: fmt.Sprintf("DEMO-C%04d", i+1), Staff: o.SalesStaff[rng.Intn(len(o.SalesStaff))]}
		t := at(from, span*4/5+1)
		switch k := rng.Intn(10); {
		case k < 6: // shared link
			j.VisitorID = demoVisitorID(rng, t)
			j.Clicks = append(j.Clicks, demoClick{At: t, Channel: demoChannels[rng.Intn(len(demoChannels))], Bot: rng.Intn(6) == 0})
			if rng.Intn(3) == 0 {
				t = at(t, 48*time.Hour)
				j.Clicks = append(j.Clicks, demoClick{At: t, Channel: demoChannels[rng.Intn(len(demoChannels))]})
			}
			if rng.Intn(3) == 0 { // a call-centre follow-up as well
				t = at(t, 24*time.Hour)
				j.Touches = append(j.Touches, demoTouch{At: t, Staff: o.Agents[rng.Intn(len(o.Agents))], Channel: "remote", Kind: demoTouchKinds[rng.Intn(3)]})
			}
			switch r := rng.Intn(10); {
			case r < 6:
				j.Link = true
			case r < 9:
				j.Token = true
			default:
				j.Code = true
			}
		case k < 8: // call centre, SMS or WeCom
			j.Touches = append(j.Touches, demoTouch{At: t, Staff: o.Agents[rng.Intn(len(o.Agents))], Channel: "remote", Kind: demoTouchKinds[rng.Intn(3)]})
		case k < 9: // branch visit
			j.Touches = append(j.Touches, demoTouch{At: t, Staff: j.Staff, Channel: "offline", Kind: "branch_visit"})
		}
		j.Convs = planConversions(rng, j, at(t, 72*time.Hour))
		out = append(out, j)
	}
	return out
}

// planConversions gives a journey one or two conversions from at on.
func planConversions(rng *rand.Rand, j *demoJourney, at time.Time) []demoConv {
	ch := "online"
	if len(j.Clicks) == 0 && len(j.Touches) > 0 {
		ch = j.Touches[len(j.Touches)-1].Channel
	}
	types := []string{"account_opened", "card_approved", "wealth_purchase"}
	var out []demoConv
	for n := 0; n < 1+rng.Intn(2); n++ {
		cv := demoConv{At: at.Add(time.Duration(n) * 2 * time.Hour), Type: types[rng.Intn(len(types))], Channel: ch, Reverse: rng.Intn(20) == 0}
		if n > 0 {
			cv.Type = "wealth_purchase"
		}
		if cv.Type == "wealth_purchase" {
			cv.Fen = 10_000 + int64(rng.Intn(200))*25_000
		}
		out = append(out, cv)
	}
	return out
}

// demoVisitorID is a visitor id of the referral service's form (16 bytes,
// the first four the Unix second), drawn from rng.
func demoVisitorID(rng *rand.Rand, t time.Time) string {
	b := make([]byte, 16)
	binary.BigEndian.PutUint32(b, uint32(t.Unix()))
	for i := 4; i < len(b); i++ {
		b[i] = byte(rng.Intn(256))
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// seedClicks records each journey's shares and clicks through the
// referral service on a clock set to each click, and keeps the referral
// token and code the journey converts with.
func seedClicks(ctx context.Context, a *app.App, c demoCampaign, plan []*demoJourney) error {
	clk := clock.NewManual(c.StartAt)
	svc := referral.NewService(a.DB, clk, referral.CampaignStore{DB: a.DB},
		referral.Config{HashKey: []byte(a.Config.HashKey), BankLandingURL: a.Config.BankLandingURL, Location: a.Config.Location()})
	err := func() error {
		for i, j := range plan {
			for k, cl := range j.Clicks {
				if err := seedClick(ctx, a, svc, clk, c, j, cl, i+k); err != nil {
					return err
				}
			}
		}
		return nil
	}()
	if cerr := svc.Close(ctx); err == nil {
		err = cerr
	}
	return err
}

func seedClick(ctx context.Context, a *app.App, svc *referral.Service, clk *clock.Manual, c demoCampaign, j *demoJourney, cl demoClick, k int) error {
	p, err := demoPrincipal(ctx, a, j.Staff)
	if err != nil {
		return err
	}
	code, err := svc.CodeFor(ctx, j.Staff, c.ID)
	if err != nil {
		return err
	}
	clk.Set(cl.At.Add(-10 * time.Minute))
	if _, err := svc.RecordShare(ctx, p, c.ID, cl.Channel); err != nil {
		return err
	}
	clk.Set(cl.At)
	req := referral.ClickRequest{Code: code.Code, Channel: string(cl.Channel), Method: "GET", UserAgent: demoClickUAs[k%2],
		Referer: "https://servicewechat.com/", IP: fmt.Sprintf("203.0.113.%d", k%250+1), VisitorID: j.VisitorID}
	r, err := svc.Click(ctx, req)
	if err != nil {
		return err
	}
	if u, err := url.Parse(r.Location); err == nil && j.token == "" {
		j.token = u.Query().Get(referral.TokenParam)
	}
	j.code = code.Code
	if cl.Bot {
		clk.Set(cl.At.Add(3 * time.Second))
		req.UserAgent, req.VisitorID = activityBotUA, ""
		if _, err := svc.Click(ctx, req); err != nil {
			return err
		}
	}
	return nil
}

// seedJourneys ingests each journey's touches, identity link, conversions
// and reversals through attribution's service, with the incentives
// listener as the server wires it.
func seedJourneys(ctx context.Context, a *app.App, o demoOrg, plan []*demoJourney) error {
	svc := attribution.NewBankService(a.DB, a.Clock, a.PII, []byte(a.Config.HashKey))
	svc.Listeners = []attribution.CreditListener{rewards.NewIncentives(a.DB, a.Clock)}
	nos := make(map[int64]string, len(o.Staff))
	for no, id := range o.Staff {
		nos[id] = no
	}
	for _, j := range plan {
		if err := seedJourney(ctx, svc, nos, j); err != nil {
			return fmt.Errorf("customer %s: %w", j.No, err)
		}
	}
	return nil
}

func seedJourney(ctx context.Context, svc *attribution.Service, nos map[int64]string, j *demoJourney) error {
	for k, t := range j.Touches {
		at := t.At
		in := attribution.TouchInput{Source: activitySource, ExternalID: fmt.Sprintf("%s-T%d", j.No, k+1), Customer: customer.Identifiers{CustomerID: j.No},
			StaffEmployeeNo: nos[t.Staff], Channel: t.Channel, Kind: t.Kind, OccurredAt: &at}
		if _, _, err := svc.RecordTouch(ctx, in, activityActor); err != nil {
			return fmt.Errorf("touch: %w", err)
		}
	}
	if j.Link && j.VisitorID != "" {
		in := attribution.IdentityInput{Source: activityIdentity, Identifiers: customer.Identifiers{CustomerID: j.No, VisitorID: j.VisitorID}}
		if _, err := svc.LinkIdentities(ctx, in, activityActor); err != nil {
			return fmt.Errorf("identity: %w", err)
		}
	}
	for k, cv := range j.Convs {
		at, fen := cv.At, cv.Fen
		in := attribution.ConversionInput{Source: activitySource, ExternalID: fmt.Sprintf("%s-V%d", j.No, k+1), Type: cv.Type,
			Customer: customer.Identifiers{CustomerID: j.No}, AmountFen: &fen, Channel: cv.Channel, OccurredAt: &at}
		if j.Token && k == 0 {
			in.ReferralToken = j.token
		}
		if j.Code && k == 0 {
			in.InvitationCode = j.code
		}
		v, _, err := svc.Record(ctx, in, activityActor)
		if err != nil {
			return fmt.Errorf("conversion: %w", err)
		}
		if cv.Reverse {
			if err := seedReversal(ctx, svc, v, cv); err != nil {
				return err
			}
		}
	}
	return nil
}

// seedReversal cancels a card or account, or redeems half a purchase, a
// day after the conversion (never after now).
func seedReversal(ctx context.Context, svc *attribution.Service, v attribution.ConversionView, cv demoConv) error {
	at := cv.At.Add(24 * time.Hour)
	if now := svc.Clock.Now(); at.After(now) {
		at = now
	}
	in := attribution.ReversalInput{ExternalID: fmt.Sprintf("%s-R", v.ExternalID), Reason: "customer cancelled", OccurredAt: &at}
	if cv.Fen > 0 {
		half := cv.Fen / 2
		in.AmountFen, in.Reason = &half, "partial redemption"
	}
	if _, err := svc.Reverse(ctx, v.ID, in, activityActor); err != nil {
		return fmt.Errorf("reversal: %w", err)
	}
	return nil
}
