package demo

import (
	"context"
	"fmt"
	"time"

	"rmref/customer"
	"rmref/internal/app"
	"rmref/internal/auth"
	"rmref/leads"
)

// demoLeadClient names the demo call-centre platform's service client
// (scope leads:claim); an HQ admin rotates it to get its secret.
const demoLeadClient = "演示呼叫中心外呼平台"

// demoLeadHome is the unit whose RMs (the printed staff member E1001 among
// them) work the demo's branch leads: the customers' home branch.
const demoLeadHome = "T-SH-PD-1"

// seedLeads sets up lead handling (settings, calendars, three rules, a
// call-centre client) and sends CRM attributes and behaviour events so
// that branch RMs of 浦东财富一组 have leads waiting and the call centre
// has leads to claim. Event ids are fixed, so a re-run adds nothing.
func seedLeads(ctx context.Context, a *app.App, o demoOrg) error {
	svc := leads.NewService(a.DB, a.Clock)
	p, err := demoPrincipal(ctx, a, o.HQAdmin)
	if err != nil {
		return err
	}
	steps := []func() error{
		func() error { return demoLeadSettings(ctx, svc, p, o) },
		func() error { return demoLeadCalendars(ctx, svc, p, o) },
		func() error { return demoLeadRules(ctx, a, svc, o) },
		func() error { return demoLeadClientKey(ctx, a) },
		func() error { return demoLeadCustomers(ctx, a) },
		func() error { return demoLeadEvents(ctx, a, svc) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return fmt.Errorf("demo: leads: %w", err)
		}
	}
	return nil
}

func demoLeadSettings(ctx context.Context, svc *leads.Service, p auth.Principal, o demoOrg) error {
	set, err := svc.Settings(ctx)
	if err != nil || set.DefaultPoolUnitID != 0 {
		return err
	}
	set.DefaultPoolUnitID = o.ManagedBranch
	set.ChannelUnits = map[string]int64{leads.ChannelCallCenter: o.CallCentre, leads.ChannelSMS: o.CallCentre, leads.ChannelWeCom: o.CallCentre}
	_, err = svc.UpdateSettings(ctx, p.Actor(), set)
	return err
}

// demoLeadCalendars gives the bank a Monday-to-Friday calendar with the
// 2027 New Year and Spring Festival changes, and the call centre a
// seven-day 08:00–22:00 calendar.
func demoLeadCalendars(ctx context.Context, svc *leads.Service, p auth.Principal, o demoOrg) error {
	bank := leads.Calendar{UnitID: o.HQ, Timezone: "Asia/Shanghai", Workdays: []int{1, 2, 3, 4, 5}, Start: "09:00", End: "18:00",
		Overrides: []leads.DayOverride{{Date: "2027-01-01", Kind: leads.DayHoliday}, {Date: "2027-02-05", Kind: leads.DayHoliday},
			{Date: "2027-02-08", Kind: leads.DayHoliday}, {Date: "2027-02-09", Kind: leads.DayHoliday}, {Date: "2027-02-10", Kind: leads.DayHoliday},
			{Date: "2027-02-11", Kind: leads.DayHoliday}, {Date: "2027-02-14", Kind: leads.DayWorkday}, {Date: "2027-02-20", Kind: leads.DayWorkday}}}
	cc := leads.Calendar{UnitID: o.CallCentre, Timezone: "Asia/Shanghai", Workdays: []int{1, 2, 3, 4, 5, 6, 7}, Start: "08:00", End: "22:00"}
	for _, c := range []leads.Calendar{bank, cc} {
		cur, err := svc.Calendar(ctx, c.UnitID)
		if err != nil {
			return err
		}
		if !cur.Inherited && cur.UnitID == c.UnitID && cur.Start == c.Start && cur.End == c.End {
			continue
		}
		if _, err := svc.SetCalendar(ctx, p.Actor(), c); err != nil {
			return err
		}
	}
	return nil
}

var demoLeadRuleDefs = []leads.RuleInput{
	{Code: "wealth-dwell", Name: "理财产品页停留 ≥ 60 秒", Status: leads.RuleActive, Definition: leads.Definition{
		Trigger: leads.Trigger{Type: leads.TriggerDwell, Products: []string{"WM-STABLE-90", "WM-PENSION"}, DwellSeconds: 60},
		Routing: leads.Routing{Default: []string{leads.ChannelCallCenter, leads.ChannelBranch},
			ByValue: map[string][]string{customer.TierPrivate: {leads.ChannelBranch}, customer.TierHNW: {leads.ChannelBranch, leads.ChannelCallCenter}},
			ByAge:   map[string][]string{"60_74": {leads.ChannelBranch, leads.ChannelCallCenter}, "75_plus": {leads.ChannelBranch}}},
		Priority: 20, SLAHours: 8, SLAHoursByChannel: map[string]int{leads.ChannelBranch: 16}, CooldownDays: 7}},
	{Code: "card-abandon", Name: "信用卡申请 30 分钟未提交", Status: leads.RuleActive, Definition: leads.Definition{
		Trigger:  leads.Trigger{Type: leads.TriggerAbandon, Products: []string{"CARD-LUCKIN-GOLD"}, AbandonMinutes: 30},
		Routing:  leads.Routing{Default: []string{leads.ChannelCallCenter, leads.ChannelSMS, leads.ChannelBranch}},
		Priority: 30, SLAHours: 8, SLAHoursByChannel: map[string]int{leads.ChannelBranch: 16}, CooldownDays: 14}},
	{Code: "loan-calculator", Name: "30 分钟内 3 次使用贷款计算器", Status: leads.RuleActive, Definition: leads.Definition{
		Trigger:  leads.Trigger{Type: leads.TriggerCount, EventKind: leads.EventCalculatorUsed, Products: []string{"LOAN-HOME"}, Count: 3, WindowMinutes: 30},
		Routing:  leads.Routing{Default: []string{leads.ChannelBranch}},
		Filters:  leads.Filters{AgeBands: []string{"30_44", "45_59"}},
		Priority: 10, SLAHours: 16, CooldownDays: 30}},
}

func demoLeadRules(ctx context.Context, a *app.App, svc *leads.Service, o demoOrg) error {
	have, err := svc.Rules(ctx)
	if err != nil {
		return err
	}
	codes := map[string]bool{}
	for _, r := range have {
		codes[r.Code] = true
	}
	cm, err := demoPrincipal(ctx, a, o.CampaignManager)
	if err != nil {
		return err
	}
	for _, in := range demoLeadRuleDefs {
		if codes[in.Code] {
			continue
		}
		if _, err := svc.CreateRule(ctx, cm.Actor(), in); err != nil {
			return err
		}
	}
	return nil
}

func demoLeadClientKey(ctx context.Context, a *app.App) error {
	var n int
	if err := a.DB.GetContext(ctx, &n, `SELECT COUNT(*) FROM service_clients WHERE name = ?`, demoLeadClient); err != nil || n > 0 {
		return err
	}
	svc := &auth.Service{DB: a.DB, Tokens: a.Tokens, Clock: a.Clock, MasterKey: []byte(a.Config.HashKey)}
	_, err := svc.CreateClient(ctx, auth.NewClient{Name: demoLeadClient, Scopes: []string{"leads:claim"}}, "system")
	return err
}

// demoLeadCustomer is one CRM record and what the customer does in the app.
type demoLeadCustomer struct {
	attrs customer.Attributes
	kind  string // dwell, abandon, calc
}

func demoLeadCustomerList() []demoLeadCustomer {
	all := customer.Consent{CallCenter: true, SMS: true, WeCom: true, Branch: true}
	c := func(id, tier, age, pref string, consent customer.Consent, dnc bool, kind string) demoLeadCustomer {
		return demoLeadCustomer{customer.Attributes{CustomerID: id, ValueTier: tier, AssetsBand: "50k_500k", AgeBand: age, PreferredChannel: pref,
			Consent: consent, DoNotContact: dnc, HomeBranch: demoLeadHome, Timezone: "Asia/Shanghai"}, kind}
	}
	return []demoLeadCustomer{
		c("DC0001", customer.TierMass, "30_44", "", all, false, "dwell"),
		c("DC0002", customer.TierMass, "30_44", "", all, false, "dwell"),
		c("DC0003", customer.TierAffluent, "45_59", "", all, false, "dwell"),
		c("DC0004", customer.TierMass, "under_30", "", all, false, "abandon"),
		c("DC0005", customer.TierMass, "60_74", "", all, false, "dwell"),
		c("DC0006", customer.TierAffluent, "75_plus", "", all, false, "dwell"),
		c("DC0007", customer.TierPrivate, "45_59", "", all, false, "dwell"),
		c("DC0008", customer.TierMass, "30_44", leads.ChannelBranch, all, false, "dwell"),
		c("DC0009", customer.TierMass, "30_44", "", all, true, "dwell"),
		c("DC0010", customer.TierMass, "45_59", "", customer.Consent{Branch: true}, false, "abandon"),
		c("DC0011", customer.TierMass, "30_44", "", all, false, "calc"),
		c("DC0012", customer.TierMass, "30_44", leads.ChannelSMS, all, false, "dwell"),
	}
}

func demoLeadCustomers(ctx context.Context, a *app.App) error {
	var items []customer.Attributes
	for _, c := range demoLeadCustomerList() {
		items = append(items, c.attrs)
	}
	_, err := customer.SaveAttributes(ctx, a.DB, "system", items, a.Clock.Now())
	return err
}

// demoLeadEvents sends the customers' app behaviour, dated shortly before
// the clock but outside the remote channels' quiet hours (else at 20:00
// the evening before), so remote leads are claimable at once.
func demoLeadEvents(ctx context.Context, a *app.App, svc *leads.Service) error {
	t := demoEventTime(a.Clock.Now())
	var evs []leads.EventIn
	for _, c := range demoLeadCustomerList() {
		id := c.attrs.CustomerID
		switch c.kind {
		case "dwell":
			product := "WM-STABLE-90"
			if c.attrs.Senior() {
				product = "WM-PENSION"
			}
			evs = append(evs, leads.EventIn{EventID: "demo-" + id + "-view", CustomerID: id, Kind: leads.EventProductView, Product: product, OccurredAt: t, DwellSeconds: 95})
		case "abandon":
			evs = append(evs, leads.EventIn{EventID: "demo-" + id + "-start", CustomerID: id, Kind: leads.EventApplicationStarted, Product: "CARD-LUCKIN-GOLD", OccurredAt: t.Add(-40 * time.Minute)})
		case "calc":
			for i := range 3 {
				evs = append(evs, leads.EventIn{EventID: fmt.Sprintf("demo-%s-calc-%d", id, i), CustomerID: id, Kind: leads.EventCalculatorUsed,
					Product: "LOAN-HOME", OccurredAt: t.Add(time.Duration(i-3) * 4 * time.Minute)})
			}
		}
	}
	_, err := svc.Ingest(ctx, "system", evs)
	return err
}

func demoEventTime(now time.Time) time.Time {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		return now.Add(-10 * time.Minute)
	}
	t := now.Add(-10 * time.Minute).In(loc)
	y, m, d := t.Date()
	switch {
	case t.Hour() < 10:
		return time.Date(y, m, d-1, 20, 0, 0, 0, loc).UTC()
	case t.Hour() >= 20:
		return time.Date(y, m, d, 20, 0, 0, 0, loc).UTC()
	}
	return t.UTC()
}
