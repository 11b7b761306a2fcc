package rewards

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"rmref/internal/apperr"
)

// Staff incentives turn attribution credits into what each staff member
// earns. A campaign's incentive plan is versioned: a campaign manager
// proposes a version, another campaign manager or an hq_admin approves it,
// and from its approval instant it governs credits that occur from then on.
// Earnings already made are never rewritten.

// Incentive rule kinds.
const (
	KindBounty     = "bounty"     // fixed amount per credited conversion, scaled by the credit's weight
	KindPercentage = "percentage" // basis points of the credited amount
	KindTier       = "tier"       // slabs by count (sum of weights) or amount within a period
	KindStage      = "stage"      // a bonus, once, on reaching N conversions in the campaign
	KindPool       = "pool"       // a unit's bonus split among its active members by credit share
)

// Reward currencies.
const (
	CurrencyCash   = "cash"   // fen
	CurrencyPoints = "points" // points
)

// Periods of tiers, pools and caps. Weeks are natural weeks starting on
// Monday, in the campaign's time zone.
const (
	IncentiveDay      = "day"
	IncentiveWeek     = "week"
	IncentiveMonth    = "month"
	IncentiveCampaign = "campaign"
)

// Tier modes: whether reaching a tier pays its rate only from its
// threshold on, or back to the first unit of the period.
const (
	TierFromThreshold = "from_threshold"
	TierBackToFirst   = "back_to_first"
)

// Tier bases.
const (
	TierByCount  = "count"  // sum of credit weights (conversions)
	TierByAmount = "amount" // credited fen
)

// Plan statuses.
const (
	PlanProposed   = "proposed"
	PlanApproved   = "approved"
	PlanRejected   = "rejected"
	PlanSuperseded = "superseded"
)

// WeightScale is the fixed-point scale of credit weights: 1_000_000 is a
// whole credit.
const WeightScale int64 = 1_000_000

// Errors of the incentive rules.
var (
	ErrIncentivePlanNotFound = apperr.NotFoundf("no such incentive plan")
	ErrIncentiveSelfApproval = apperr.Conflictf("self_approval", "nobody approves their own proposal")
	ErrIncentiveNotProposed  = apperr.Conflictf("invalid_transition", "only a proposed plan can be approved or rejected")
	ErrIncentiveCampaign     = apperr.NotFoundf("no such campaign")
	ErrIncentiveEarningScope = apperr.NotFoundf("no such staff member")
)

// IncentiveTier is one slab of a tier rule. Threshold is in whole
// conversions (basis count) or fen (basis amount). Amount is paid per whole
// conversion (count); RateBP is paid on the credited fen (amount).
type IncentiveTier struct {
	Threshold int64 `json:"threshold"`
	Amount    int64 `json:"amount,omitempty"`
	RateBP    int64 `json:"rate_bp,omitempty"`
}

// IncentiveRule is one rule of a plan. Amounts are fen when Currency is
// cash and points otherwise. ConversionType "" matches every type.
type IncentiveRule struct {
	ID             string          `json:"id"`
	Kind           string          `json:"kind"`
	Currency       string          `json:"currency"`
	ConversionType string          `json:"conversion_type,omitempty"`
	Amount         int64           `json:"amount,omitempty"`    // bounty per whole credit; stage bonus; pool per unit and period
	RateBP         int64           `json:"rate_bp,omitempty"`   // percentage
	Basis          string          `json:"basis,omitempty"`     // tier: count | amount
	Mode           string          `json:"mode,omitempty"`      // tier: from_threshold | back_to_first
	Period         string          `json:"period,omitempty"`    // tier, pool: day | week | month | campaign
	Tiers          []IncentiveTier `json:"tiers,omitempty"`     // tier
	Threshold      int64           `json:"threshold,omitempty"` // stage: whole conversions
	UnitKind       string          `json:"unit_kind,omitempty"` // pool: team | branch
}

// IncentiveCap limits what one staff member earns in a currency per day,
// natural week, month or over the whole campaign.
type IncentiveCap struct {
	Period   string `json:"period"`
	Currency string `json:"currency"`
	Limit    int64  `json:"limit"`
}

// IncentivePlanInput is what a campaign manager proposes. BudgetFen nil
// means no campaign budget (cash is then limited by caps only).
type IncentivePlanInput struct {
	CampaignID int64           `json:"campaign_id,string"`
	BudgetFen  *int64          `json:"budget_fen"`
	Caps       []IncentiveCap  `json:"caps"`
	Rules      []IncentiveRule `json:"rules"`
}

// IncentivePlan is one version of a campaign's plan.
type IncentivePlan struct {
	ID         int64           `json:"id,string"`
	CampaignID int64           `json:"campaign_id,string"`
	Version    int             `json:"version"`
	Status     string          `json:"status"`
	BudgetFen  *int64          `json:"budget_fen"`
	Caps       []IncentiveCap  `json:"caps"`
	Rules      []IncentiveRule `json:"rules"`
	ProposedBy int64           `json:"proposed_by,string"`
	ProposedAt time.Time       `json:"proposed_at"`
	DecidedBy  int64           `json:"decided_by,string,omitempty"`
	DecidedAt  *time.Time      `json:"decided_at"`
}

// Rule returns the plan's rule with the given id.
func (p IncentivePlan) Rule(id string) (IncentiveRule, bool) {
	for _, r := range p.Rules {
		if r.ID == id {
			return r, true
		}
	}
	return IncentiveRule{}, false
}

var (
	incentiveKinds      = []string{KindBounty, KindPercentage, KindTier, KindStage, KindPool}
	incentivePeriods    = []string{IncentiveDay, IncentiveWeek, IncentiveMonth, IncentiveCampaign}
	incentiveCurrencies = []string{CurrencyCash, CurrencyPoints}
)

// Validate checks a proposed plan, naming each offending field.
func (in IncentivePlanInput) Validate() error {
	var v apperr.Collector
	v.Check(in.CampaignID <= 0, "campaign_id", "is required")
	v.Check(in.BudgetFen != nil && *in.BudgetFen < 0, "budget_fen", "must be ≥ 0")
	v.Check(len(in.Rules) == 0, "rules", "at least one rule is required")
	v.Check(len(in.Rules) > 50, "rules", "at most 50 rules")
	seenCap := map[string]bool{}
	for i, c := range in.Caps {
		p := fmt.Sprintf("caps[%d]", i)
		v.Check(!slices.Contains(incentivePeriods, c.Period), p+".period", "must be one of day, week, month, campaign")
		v.Check(!slices.Contains(incentiveCurrencies, c.Currency), p+".currency", "must be cash or points")
		v.Check(c.Limit < 0, p+".limit", "must be ≥ 0")
		v.Check(seenCap[c.Period+"/"+c.Currency], p, "duplicate cap for this period and currency")
		seenCap[c.Period+"/"+c.Currency] = true
	}
	seen := map[string]bool{}
	for i, r := range in.Rules {
		p := fmt.Sprintf("rules[%d]", i)
		v.Check(seen[r.ID], p+".id", "duplicate rule id")
		seen[r.ID] = true
		r.validate(&v, p)
	}
	return v.Err()
}

func (r IncentiveRule) validate(v *apperr.Collector, p string) {
	v.Check(!validRuleID(r.ID), p+".id", "must be 1–64 characters of a-z, 0-9, _ or -")
	v.Check(!slices.Contains(incentiveCurrencies, r.Currency), p+".currency", "must be cash or points")
	v.Check(len(r.ConversionType) > 64, p+".conversion_type", "at most 64 characters")
	switch r.Kind {
	case KindBounty:
		v.Check(r.Amount <= 0, p+".amount", "must be > 0")
	case KindPercentage:
		v.Check(r.RateBP <= 0 || r.RateBP > 10000, p+".rate_bp", "must be from 1 to 10000")
	case KindStage:
		v.Check(r.Amount <= 0, p+".amount", "must be > 0")
		v.Check(r.Threshold <= 0, p+".threshold", "must be > 0")
	case KindPool:
		v.Check(r.Amount <= 0, p+".amount", "must be > 0")
		v.Check(r.UnitKind != "team" && r.UnitKind != "branch", p+".unit_kind", "must be team or branch")
		v.Check(r.Period != IncentiveMonth, p+".period", "must be month")
	case KindTier:
		r.validateTier(v, p)
	default:
		v.Add(p+".kind", "must be one of "+strings.Join(incentiveKinds, ", "))
	}
}

func (r IncentiveRule) validateTier(v *apperr.Collector, p string) {
	v.Check(r.Basis != TierByCount && r.Basis != TierByAmount, p+".basis", "must be count or amount")
	v.Check(r.Mode != TierFromThreshold && r.Mode != TierBackToFirst, p+".mode", "must be from_threshold or back_to_first")
	v.Check(!slices.Contains(incentivePeriods, r.Period), p+".period", "must be one of day, week, month, campaign")
	v.Check(len(r.Tiers) == 0 || len(r.Tiers) > 20, p+".tiers", "must hold 1 to 20 tiers")
	for j, t := range r.Tiers {
		tp := fmt.Sprintf("%s.tiers[%d]", p, j)
		v.Check(t.Threshold < 0, tp+".threshold", "must be ≥ 0")
		v.Check(j > 0 && t.Threshold <= r.Tiers[j-1].Threshold, tp+".threshold", "must be greater than the previous tier's")
		if r.Basis == TierByCount {
			v.Check(t.Amount < 0 || t.RateBP != 0, tp+".amount", "count tiers pay an amount ≥ 0 per conversion (no rate_bp)")
		} else {
			v.Check(t.RateBP < 0 || t.RateBP > 10000 || t.Amount != 0, tp+".rate_bp", "amount tiers pay a rate_bp from 0 to 10000 (no amount)")
		}
	}
}

func validRuleID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
