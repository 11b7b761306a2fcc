package demo

import (
	"context"
	"fmt"
	"time"

	"rmref/internal/app"
	"rmref/internal/clock"
	"rmref/referral"
)

// demoClickUAs are the browsers (and one link-preview fetcher) the demo's
// visitors use.
var demoClickUAs = []string{
	"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 MicroMessenger/8.0.44 NetType/WIFI Language/zh_CN",
	"Mozilla/5.0 (Linux; Android 13; V2219A) AppleWebKit/537.36 Chrome/116.0 Mobile Safari/537.36 MicroMessenger/8.0.43",
	"Mozilla/5.0 (Linux; Android 13) Mobile Safari/537.36 Weibo (Xiaomi__weibo__13.6.0__android__android13)",
	"facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
}

// demoChannels are the channels demo staff share on, most used first.
var demoChannels = []referral.Channel{referral.ChannelWeChatFriend, referral.ChannelWeChatMoments,
	referral.ChannelQRPoster, referral.ChannelWeCom, referral.ChannelSMS}

// seedReferral gives the first demo sales staff their campaign codes and a
// week of shares and clicks (through the real click path, on a clock set to
// each day), so that /me/kit and /me/stats have something to show. It does
// nothing when the campaign already has clicks.
func seedReferral(ctx context.Context, a *app.App, o demoOrg, c demoCampaign) error {
	var n int
	if err := a.DB.GetContext(ctx, &n, `SELECT COUNT(*) FROM referral_clicks WHERE campaign_id = ?`, c.ID); err != nil {
		return fmt.Errorf("demo: referral: %w", err)
	}
	if n > 0 {
		return nil
	}
	staff := o.SalesStaff
	if len(staff) > 8 {
		staff = staff[:8]
	}
	days := demoDays(a.Clock.Now(), c.StartAt, 7)
	for i, id := range staff {
		if err := seedStaffActivity(ctx, a, id, c, days, i); err != nil {
			return fmt.Errorf("demo: referral: staff %d: %w", id, err)
		}
	}
	return nil
}

// demoDays returns up to n instants, one per day at 10:00 UTC (18:00 in
// Shanghai), ending today and not before start.
func demoDays(now, start time.Time, n int) []time.Time {
	var out []time.Time
	for d := n - 1; d >= 0; d-- {
		t := time.Date(now.Year(), now.Month(), now.Day(), 2, 0, 0, 0, time.UTC).AddDate(0, 0, -d)
		if !t.Before(start) && !t.After(now) {
			out = append(out, t)
		}
	}
	return out
}

// seedStaffActivity records, for one staff member, a few shares and clicks
// per day; k varies the volume between staff so that boards differ.
func seedStaffActivity(ctx context.Context, a *app.App, staffID int64, c demoCampaign, days []time.Time, k int) error {
	p, err := demoPrincipal(ctx, a, staffID)
	if err != nil {
		return err
	}
	for di, day := range days {
		clk := clock.NewManual(day)
		svc := referral.NewService(a.DB, clk, referral.CampaignStore{DB: a.DB},
			referral.Config{HashKey: []byte(a.Config.HashKey), BankLandingURL: a.Config.BankLandingURL, Location: a.Config.Location()})
		err := seedDay(ctx, svc, clk, p.StaffID, c.ID, di+k, func(ch referral.Channel) error {
			_, err := svc.RecordShare(ctx, p, c.ID, ch)
			return err
		})
		svc.Close(ctx)
		if err != nil {
			return err
		}
	}
	return nil
}

// seedDay records 1–2 shares and a handful of clicks from distinct
// visitors (one returning, one preview bot) a few minutes apart.
func seedDay(ctx context.Context, svc *referral.Service, clk *clock.Manual, staffID, campaignID int64, seed int, share func(referral.Channel) error) error {
	code, err := svc.CodeFor(ctx, staffID, campaignID)
	if err != nil {
		return err
	}
	for s := 0; s <= seed%2; s++ {
		if err := share(demoChannels[(seed+s)%len(demoChannels)]); err != nil {
			return err
		}
	}
	returning := ""
	for v := 0; v < 2+seed%4; v++ {
		clk.Advance(7 * time.Minute)
		vid := ""
		if v == 1 {
			vid = returning // comes back: a click, not a new unique visitor
		}
		r, err := svc.Click(ctx, referral.ClickRequest{Code: code.Code, Channel: string(demoChannels[(seed+v)%len(demoChannels)]),
			Method: "GET", UserAgent: demoClickUAs[(seed+v)%len(demoClickUAs)], Referer: "https://servicewechat.com/",
			IP: fmt.Sprintf("198.51.100.%d", (seed*7+v)%250+1), VisitorID: vid})
		if err != nil {
			return err
		}
		if v == 0 {
			returning = r.VisitorID
		}
	}
	return nil
}
