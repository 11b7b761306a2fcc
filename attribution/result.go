package attribution

import (
	"strconv"
	"time"
)

// Rule names how a conversion was credited in a campaign.
type Rule string

// The rules.
const (
	RuleBinding    Rule = "binding"     // an entered code or referral token
	RuleProtection Rule = "protection"  // the customer was under protection
	RuleModel      Rule = "model"       // the campaign's model over touches
	RuleNoTouches  Rule = "no_touches"  // nothing to credit
	RuleNotCounted Rule = "not_counted" // the campaign does not count it
)

// The exclusion reasons.
const (
	ReasonBot                = "bot"
	ReasonNotCounted         = "click_not_counted"
	ReasonStaffLeft          = "staff_left"
	ReasonCodeRevoked        = "code_revoked"
	ReasonSelfReferral       = "self_referral"
	ReasonTypeNotCounted     = "type_not_counted"
	ReasonBelowMinAmount     = "below_min_amount"
	ReasonOutsideDates       = "outside_campaign_dates"
	ReasonOutsideUnits       = "outside_participating_units"
	ReasonOtherCampaign      = "other_campaign"
	ReasonOutsideLookback    = "outside_lookback_window"
	ReasonAfterConversion    = "after_conversion"
	ReasonUnderProtection    = "customer_under_protection"
	ReasonBindingTakesOver   = "explicit_binding"
	ReasonUnknownStaff       = "unknown_staff"
	ReasonProtectorLeft      = "protector_left"
	ReasonSupersededByBinder = "superseded_by_code"
)

// Weight is a share of a conversion in millionths, shown in JSON as a
// number with at most 4 decimals.
type Weight int64

// WeightOne is a whole conversion.
const WeightOne Weight = 1_000_000

// MarshalJSON writes the weight rounded half up to 4 decimals.
func (w Weight) MarshalJSON() ([]byte, error) {
	neg := w < 0
	if neg {
		w = -w
	}
	t := (int64(w) + 50) / 100 // ten-thousandths
	s := strconv.FormatInt(t/10000, 10)
	if f := t % 10000; f != 0 {
		fs := strconv.FormatInt(f+10000, 10)[1:]
		for fs[len(fs)-1] == '0' {
			fs = fs[:len(fs)-1]
		}
		s += "." + fs
	}
	if neg && t != 0 {
		s = "-" + s
	}
	return []byte(s), nil
}

// Credit is one staff member's share of a conversion in one campaign.
type Credit struct {
	StaffID      int64     `json:"staff_id,string"`
	EmployeeNo   string    `json:"employee_no"`
	Weight       Weight    `json:"weight"`
	CreditedFen  int64     `json:"credited_fen"`
	FirstTouchAt time.Time `json:"first_touch_at"`
	Chain        Chain     `json:"chain"`
}

// Considered is a touch that counted, with the weight it earned.
type Considered struct {
	Touch
	Weight Weight `json:"weight"`
}

// Excluded is a touch or binding left out, with the reason.
type Excluded struct {
	Touch  *Touch   `json:"touch,omitempty"`
	Bind   *Binding `json:"binding,omitempty"`
	Reason string   `json:"reason"`
}

// Result is the engine's decision for one conversion in one campaign, and
// its explanation.
type Result struct {
	CampaignID      int64        `json:"campaign_id,string"`
	Rule            Rule         `json:"rule"`
	Reason          string       `json:"reason,omitempty"`
	Settings        Settings     `json:"settings"`
	Binding         *Binding     `json:"binding,omitempty"`
	Protection      *Protection  `json:"protection,omitempty"`
	Considered      []Considered `json:"considered"`
	Excluded        []Excluded   `json:"excluded"`
	Credits         []Credit     `json:"credits"`
	ProtectionStart bool         `json:"protection_start"` // this conversion starts a protection period
	Moves           []Move       `json:"moves,omitempty"`  // approved disputes applied to the credits
}

// Protector returns the staff member with the largest credit (ties: the
// one touched earlier), or 0 when nothing was credited.
func (r Result) Protector() int64 {
	var best *Credit
	for i := range r.Credits {
		c := &r.Credits[i]
		if best == nil || c.Weight > best.Weight {
			best = c
		}
	}
	if best == nil {
		return 0
	}
	return best.StaffID
}
