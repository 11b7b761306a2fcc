package rewards

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"rmref/internal/apperr"
)

// Rule kinds of a perk programme.
const (
	RuleMilestone = "milestone" // one purchase ≥ an amount within D days of approval, once
	RulePeriodic  = "periodic"  // K purchases within a natural week or month, per period
	RuleExchange  = "exchange"  // points for a coupon on request, with caps
)

// Natural periods of a periodic rule.
const (
	PeriodWeek  = "week"
	PeriodMonth = "month"
)

// Year bases: what "a year" means for yearly caps.
const (
	YearCalendar  = "calendar"
	YearProgramme = "programme"
)

// Perk errors.
var (
	ErrPerkNotFound        = apperr.NotFoundf("no such perk programme")
	ErrPerkVersionNotFound = apperr.NotFoundf("no such programme version")
	ErrPerkGrantNotFound   = apperr.NotFoundf("no such grant")
	ErrPerkSelfApproval    = apperr.Conflictf("self_approval", "nobody approves their own proposal")
	ErrPerkNotProposed     = apperr.Conflictf("invalid_transition", "only a proposed version can be approved")
	ErrPerkClaimWindow     = apperr.Conflictf("claim_window_closed", "the grant's claim window has closed")
	ErrPerkNotClaimable    = apperr.Conflictf("not_claimable", "the grant is not claimable")
	ErrPerkAlreadyClaimed  = apperr.Conflictf("already_claimed", "the grant is already claimed")
	ErrPerkFutureTime      = apperr.Conflictf("future_time", "time is more than 5 minutes ahead of the clock")
	ErrPerkEventReused     = apperr.Conflictf("event_id_reused", "event id already used with another payload")
	ErrPerkEventInFlight   = apperr.Conflictf("event_in_flight", "another request is storing the same event id; retry it")
	ErrPerkNotRedeemable   = apperr.Conflictf("coupon_not_redeemable", "the coupon is not in effect at that time")
	ErrPerkNoExchange      = apperr.Conflictf("exchange_not_eligible", "no exchange rule of an approved programme applies to this card")
	ErrPerkMonthlyCap      = apperr.Conflictf("exchange_monthly_cap", "the monthly exchange cap is reached")
	ErrPerkYearlyCap       = apperr.Conflictf("exchange_yearly_cap", "the yearly exchange cap is reached")
)

// PerkEligibility says which cards a rule counts.
type PerkEligibility struct {
	Tiers            []string `json:"tiers,omitempty"` // empty: every tier
	PrimaryOnly      bool     `json:"primary_only"`
	NewCustomersOnly bool     `json:"new_customers_only"`
}

// PerkRule is one rule of a programme; the fields used depend on Kind.
type PerkRule struct {
	Slug        string          `json:"slug"`
	Name        string          `json:"name"`
	Kind        string          `json:"kind"`
	Eligibility PerkEligibility `json:"eligibility"`

	WithinDays   int   `json:"within_days,omitempty"`    // milestone: days after approval, approval day = day 1
	MinAmountFen int64 `json:"min_amount_fen,omitempty"` // milestone: inclusive

	Period    string `json:"period,omitempty"`    // periodic: week or month
	Purchases int    `json:"purchases,omitempty"` // periodic: K purchases in one period

	PointsCost int64 `json:"points_cost,omitempty"` // exchange
	MonthlyCap int   `json:"monthly_cap,omitempty"` // exchange: per calendar month
	YearlyCap  int   `json:"yearly_cap,omitempty"`  // periodic and exchange; 0 = none

	Coupons            int              `json:"coupons"`                        // coupons per grant
	ValueFen           int64            `json:"value_fen,omitempty"`            // per coupon, any tier
	ValueFenByTier     map[string]int64 `json:"value_fen_by_tier,omitempty"`    // per coupon, by card tier
	CupsPerCoupon      int              `json:"cups_per_coupon"`                // map icons per coupon
	ClaimDays          int              `json:"claim_days,omitempty"`           // window from qualifying day (day 1)
	ActivationPerMonth int              `json:"activation_per_month,omitempty"` // 0 = all at claim
	ValidityDays       int              `json:"validity_days"`                  // from taking effect (day 1)
}

// PerkStage is one cumulative map threshold and its reward.
type PerkStage struct {
	Icons      int    `json:"icons"`
	DiscountBP int    `json:"discount_bp"` // instalment discount, 2500 = 25% off
	Gift       string `json:"gift"`
}

// PerkConfig is one version of a programme's configuration.
type PerkConfig struct {
	Product   string      `json:"product"`
	Timezone  string      `json:"timezone"`
	StartDate string      `json:"start_date"`         // first day, inclusive
	EndDate   string      `json:"end_date,omitempty"` // last day, inclusive; empty = open
	YearBasis string      `json:"year_basis"`         // calendar or programme
	Rules     []PerkRule  `json:"rules"`
	Stages    []PerkStage `json:"stages"`
}

// Location returns the programme's time zone (validated beforehand).
func (c PerkConfig) Location() *time.Location { return perkLocation(c.Timezone) }

// perkZones memoises time.LoadLocation, which reads the zone database on
// every call; evaluation asks for the zone once per event.
var perkZones sync.Map

func perkLocation(name string) *time.Location {
	if l, ok := perkZones.Load(name); ok {
		return l.(*time.Location)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return time.UTC
	}
	perkZones.Store(name, loc)
	return loc
}

// Rule returns the rule with the given slug.
func (c PerkConfig) Rule(slug string) (PerkRule, bool) {
	for _, r := range c.Rules {
		if r.Slug == slug {
			return r, true
		}
	}
	return PerkRule{}, false
}

// period returns the programme's [start, end) in its zone; end is zero when open.
func (c PerkConfig) period() (start, end time.Time) {
	loc := c.Location()
	start, _ = time.ParseInLocation(time.DateOnly, c.StartDate, loc)
	if c.EndDate != "" {
		e, _ := time.ParseInLocation(time.DateOnly, c.EndDate, loc)
		end = e.AddDate(0, 0, 1)
	}
	return start, end
}

// inPeriod reports whether t falls within the programme's dates.
func (c PerkConfig) inPeriod(t time.Time) bool {
	s, e := c.period()
	return !t.Before(s) && (e.IsZero() || t.Before(e))
}

// yearStart returns the start of the cap year holding t.
func (c PerkConfig) yearStart(t time.Time) time.Time {
	if c.YearBasis == YearProgramme {
		s, _ := c.period()
		return PerkYearStart(t, c.Location(), s)
	}
	return PerkYearStart(t, c.Location(), time.Time{})
}

// valueFor returns a coupon's value for a card tier.
func (r PerkRule) valueFor(tier string) int64 {
	if v, ok := r.ValueFenByTier[tier]; ok {
		return v
	}
	return r.ValueFen
}

// eligible reports whether a card counts for the rule.
func (r PerkRule) eligible(c perkCard) bool {
	e := r.Eligibility
	return (len(e.Tiers) == 0 || slices.Contains(e.Tiers, c.Tier)) &&
		(!e.PrimaryOnly || c.Primary) && (!e.NewCustomersOnly || c.NewCustomer)
}

// Validate checks the configuration; field paths are JSON paths.
func (c PerkConfig) Validate() error {
	var v apperr.Collector
	v.Check(c.Product == "", "product", "is required")
	if _, err := time.LoadLocation(c.Timezone); err != nil || c.Timezone == "" {
		v.Add("timezone", "must be an IANA time zone such as Asia/Shanghai")
	}
	s, err := time.Parse(time.DateOnly, c.StartDate)
	v.Check(err != nil, "start_date", "must be YYYY-MM-DD")
	if c.EndDate != "" {
		e, err := time.Parse(time.DateOnly, c.EndDate)
		v.Check(err != nil || e.Before(s), "end_date", "must be YYYY-MM-DD on or after start_date")
	}
	v.Check(c.YearBasis != YearCalendar && c.YearBasis != YearProgramme, "year_basis", "must be calendar or programme")
	v.Check(len(c.Rules) == 0, "rules", "at least one rule is required")
	seen := map[string]bool{}
	for i, r := range c.Rules {
		v.Check(seen[r.Slug], fmt.Sprintf("rules[%d].slug", i), "must be unique")
		seen[r.Slug] = true
		r.validate(&v, fmt.Sprintf("rules[%d].", i))
	}
	for i, st := range c.Stages {
		p := fmt.Sprintf("stages[%d].", i)
		v.Check(st.Icons <= 0 || (i > 0 && st.Icons <= c.Stages[i-1].Icons), p+"icons", "must be positive and increasing")
		v.Check(st.DiscountBP < 0 || st.DiscountBP > 10000, p+"discount_bp", "must be 0 to 10000")
	}
	return v.Err()
}

func (r PerkRule) validate(v *apperr.Collector, p string) {
	v.Check(!validSlug(r.Slug), p+"slug", "must be 1–32 of a-z, 0-9, _")
	switch r.Kind {
	case RuleMilestone:
		v.Check(r.WithinDays <= 0, p+"within_days", "must be positive")
		v.Check(r.MinAmountFen < 0, p+"min_amount_fen", "must be ≥ 0")
		v.Check(r.ClaimDays <= 0, p+"claim_days", "must be positive")
	case RulePeriodic:
		v.Check(r.Period != PeriodWeek && r.Period != PeriodMonth, p+"period", "must be week or month")
		v.Check(r.Purchases <= 0, p+"purchases", "must be positive")
		v.Check(r.ClaimDays <= 0, p+"claim_days", "must be positive")
	case RuleExchange:
		v.Check(r.PointsCost < 0, p+"points_cost", "must be ≥ 0")
		v.Check(r.MonthlyCap < 0, p+"monthly_cap", "must be ≥ 0")
	default:
		v.Add(p+"kind", "must be milestone, periodic or exchange")
	}
	v.Check(r.YearlyCap < 0, p+"yearly_cap", "must be ≥ 0")
	v.Check(r.Coupons <= 0, p+"coupons", "must be positive")
	v.Check(r.ValueFen < 0, p+"value_fen", "must be ≥ 0")
	for t, fen := range r.ValueFenByTier {
		v.Check(fen < 0 || t == "", p+"value_fen_by_tier", "tiers must be named and values ≥ 0")
	}
	v.Check(r.ValueFen == 0 && len(r.ValueFenByTier) == 0, p+"value_fen", "a coupon value is required")
	v.Check(r.CupsPerCoupon < 0, p+"cups_per_coupon", "must be ≥ 0")
	v.Check(r.ActivationPerMonth < 0, p+"activation_per_month", "must be ≥ 0")
	v.Check(r.ValidityDays <= 0, p+"validity_days", "must be positive")
}

func validSlug(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

// CoffeeTemplate returns the co-branded card coffee programme of DOMAIN.md
// for a card product, starting on start (YYYY-MM-DD): calendar year;
// welcome 6 × 26 yuan, weekly 26/29 yuan capped at 52, points exchange
// capped at 3 a month and 36 a year, map stages at 20/35/60/88/100 icons.
func CoffeeTemplate(product, start, end string) PerkConfig {
	primaryNew := PerkEligibility{PrimaryOnly: true, NewCustomersOnly: true}
	return PerkConfig{
		Product: product, Timezone: "Asia/Shanghai", StartDate: start, EndDate: end, YearBasis: YearCalendar,
		Rules: []PerkRule{
			{Slug: "welcome", Name: "Welcome gift", Kind: RuleMilestone,
				Eligibility: PerkEligibility{Tiers: []string{"gold"}, PrimaryOnly: true, NewCustomersOnly: true},
				WithinDays:  60, MinAmountFen: 9900, Coupons: 6, ValueFen: 2600, CupsPerCoupon: 2,
				ClaimDays: 30, ActivationPerMonth: 3, ValidityDays: 30},
			{Slug: "weekly", Name: "Weekly coffee", Kind: RulePeriodic, Eligibility: primaryNew,
				Period: PeriodWeek, Purchases: 3, YearlyCap: 52, Coupons: 1,
				ValueFenByTier: map[string]int64{"gold": 2600, "platinum": 2900}, CupsPerCoupon: 1,
				ClaimDays: 7, ValidityDays: 30},
			{Slug: "exchange", Name: "Points exchange", Kind: RuleExchange,
				Eligibility: PerkEligibility{PrimaryOnly: true}, PointsCost: 2600, MonthlyCap: 3, YearlyCap: 36,
				Coupons: 1, ValueFenByTier: map[string]int64{"gold": 2600, "platinum": 2900}, CupsPerCoupon: 1,
				ValidityDays: 30},
		},
		Stages: []PerkStage{
			{Icons: 20, DiscountBP: 2500, Gift: "blind box"},
			{Icons: 35, DiscountBP: 3000, Gift: "blind box"},
			{Icons: 60, DiscountBP: 3500, Gift: "blind box"},
			{Icons: 88, DiscountBP: 4000, Gift: "blind box"},
			{Icons: 100, DiscountBP: 5000, Gift: "blind box"},
		},
	}
}
