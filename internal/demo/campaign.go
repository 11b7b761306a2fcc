package demo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"rmref/campaign"
	"rmref/internal/app"
	"rmref/internal/auth"
)

// demoCampaignCode is the code of the demo's campaign.
const demoCampaignCode = "winter-2026"

// demoCampaign holds what later demo steps need of the demo campaign.
type demoCampaign struct {
	ID      int64
	Code    string
	Name    string
	StartAt time.Time
	EndAt   time.Time
}

// seedCampaign creates (or finds) the demo campaign: active over the whole
// bank, counting account_opened, card_approved and wealth_purchase (from
// 100 yuan), with the default poster template. It runs from the start of
// the current month (Asia/Shanghai) for four months, so that it is live
// whenever the demo starts.
func seedCampaign(ctx context.Context, a *app.App, o demoOrg) (demoCampaign, error) {
	c, err := campaign.GetByCode(ctx, a.DB, demoCampaignCode)
	if err == nil {
		return demoCampaignOf(c), nil
	}
	if !errors.Is(err, campaign.ErrNotFound) {
		return demoCampaign{}, err
	}
	p, err := demoPrincipal(ctx, a, o.CampaignManager)
	if err != nil {
		return demoCampaign{}, err
	}
	if len(a.Config.LandingHosts) == 0 {
		return demoCampaign{}, fmt.Errorf("demo: campaign: no landing host is allowed (RMREF_LANDING_HOSTS)")
	}
	svc := campaign.NewService(a.DB, a.Clock, a.Config.LandingHosts)
	c, err = svc.Create(ctx, p, demoCampaignPatch(a, o))
	if err != nil {
		return demoCampaign{}, fmt.Errorf("demo: campaign: %w", err)
	}
	if c, err = svc.Transition(ctx, p, c.ID, campaign.StatusActive); err != nil {
		return demoCampaign{}, fmt.Errorf("demo: campaign: activate: %w", err)
	}
	return demoCampaignOf(c), nil
}

func demoCampaignPatch(a *app.App, o demoOrg) campaign.Patch {
	loc, err := campaign.LoadLocation(campaign.DefaultTimezone)
	if err != nil {
		loc = time.UTC
	}
	now := a.Clock.Now().In(loc)
	start := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, loc).UTC()
	end := time.Date(now.Year(), now.Month()+4, 1, 0, 0, 0, 0, loc).UTC()
	code, name := demoCampaignCode, "2026 冬季开卡季"
	desc := "开户、信用卡获批、购买理财（100 元起）均计入业绩；分享专属海报，客户扫码即绑定。"
	landing := "https://" + a.Config.LandingHosts[0] + "/campaign/" + demoCampaignCode
	units := []int64{o.HQ}
	conv := []campaign.ConversionRule{{Type: "account_opened"}, {Type: "card_approved"}, {Type: "wealth_purchase", MinAmountFen: 10000}}
	return campaign.Patch{Code: &code, Name: &name, Description: &desc, StartAt: &start, EndAt: &end,
		LandingURL: &landing, UnitIDs: &units, Conversions: &conv}
}

func demoPrincipal(ctx context.Context, a *app.App, staffID int64) (auth.Principal, error) {
	var ver int64
	if err := a.DB.GetContext(ctx, &ver, `SELECT token_version FROM staff WHERE id = ?`, staffID); err != nil {
		return auth.Principal{}, fmt.Errorf("demo: staff %d: %w", staffID, err)
	}
	return auth.LoadStaffPrincipal(ctx, a.DB, staffID, ver)
}

func demoCampaignOf(c campaign.Campaign) demoCampaign {
	return demoCampaign{ID: c.ID, Code: c.Code, Name: c.Name, StartAt: c.StartAt, EndAt: c.EndAt}
}
