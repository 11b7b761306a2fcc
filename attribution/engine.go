package attribution

import (
	"slices"
	"strings"
	"time"
)

// Model is an attribution model.
type Model string

// The models.
const (
	LastTouch     Model = "last_touch"
	FirstTouch    Model = "first_touch"
	Linear        Model = "linear"
	TimeDecay     Model = "time_decay"
	PositionBased Model = "position_based"
)

// Models lists the valid models.
var Models = []Model{LastTouch, FirstTouch, Linear, TimeDecay, PositionBased}

// ValidModel reports whether m is a known model.
func ValidModel(m Model) bool { return slices.Contains(Models, m) }

// Day is 24 hours: campaign windows are counted in whole 24 h periods.
const Day = 24 * time.Hour

// Settings are a campaign's attribution settings.
type Settings struct {
	Model          Model `json:"model"`
	LookbackDays   int   `json:"lookback_days"`
	HalfLifeDays   int   `json:"half_life_days"`
	ProtectionDays int   `json:"protection_days"`
}

// WithDefaults fills unset settings: last_touch, 30 days lookback, 7 days
// half-life, no protection.
func (s Settings) WithDefaults() Settings {
	if s.Model == "" {
		s.Model = LastTouch
	}
	if s.LookbackDays <= 0 {
		s.LookbackDays = 30
	}
	if s.HalfLifeDays <= 0 {
		s.HalfLifeDays = 7
	}
	return s
}

// Campaign is what the engine needs to know of a campaign.
type Campaign struct {
	ID        int64
	Code      string
	Start     time.Time
	End       time.Time
	Location  *time.Location
	UnitPaths []string         // participating subtrees; empty: the whole bank
	Counts    map[string]int64 // counted conversion type → minimum amount (fen)
	Settings  Settings
	FreezeAt  time.Time // results freeze then (late changes become adjustments); zero: never
}

// Covers reports whether t lies within the campaign's dates [Start, End).
func (c Campaign) Covers(t time.Time) bool { return !t.Before(c.Start) && t.Before(c.End) }

// FrozenAt reports whether the campaign's results are frozen at t.
func (c Campaign) FrozenAt(t time.Time) bool { return !c.FreezeAt.IsZero() && !t.Before(c.FreezeAt) }

// Participates reports whether a unit at path takes part in the campaign.
func (c Campaign) Participates(path string) bool {
	if len(c.UnitPaths) == 0 {
		return true
	}
	for _, p := range c.UnitPaths {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// Chain is a staff member's org chain at one instant.
type Chain struct {
	UnitID      int64  `json:"unit_id,string"`
	UnitPath    string `json:"unit_path"`
	TeamID      int64  `json:"team_id,string,omitempty"`
	SubbranchID int64  `json:"subbranch_id,string,omitempty"`
	BranchID    int64  `json:"branch_id,string,omitempty"`
	RegionID    int64  `json:"region_id,string,omitempty"`
}

// Staff is what the engine needs to know of a staff member, as of the
// conversion time.
type Staff struct {
	ID         int64
	EmployeeNo string
	LeftAt     time.Time // zero: still employed
	PhoneHash  string
	Chain      Chain
}

// LeftBy reports whether the staff member had left at t.
func (s Staff) LeftBy(t time.Time) bool { return !s.LeftAt.IsZero() && !s.LeftAt.After(t) }

// Conversion is what the engine needs to know of a conversion.
type Conversion struct {
	ID         int64
	Type       string
	AmountFen  int64
	OccurredAt time.Time
}

// Touch is one contact between the customer and a staff member: a
// recorded click or a remote/offline contact.
type Touch struct {
	Source        string    `json:"source"` // "click" or "contact"
	ID            int64     `json:"id,string"`
	At            time.Time `json:"at"`
	StaffID       int64     `json:"staff_id,string"`
	CampaignID    int64     `json:"campaign_id,string,omitempty"` // 0: any campaign the staff member takes part in
	Channel       string    `json:"channel"`
	Kind          string    `json:"kind"`
	Bot           bool      `json:"-"`
	NotCounted    string    `json:"-"` // why the click was not counted at capture, "" if counted
	CodeRevokedAt time.Time `json:"-"` // zero: the code was never revoked
}

// Binding is an explicit binding presented with a conversion: an entered
// invitation code or a referral token.
type Binding struct {
	Via        string    `json:"via"` // "code" or "token"
	Code       string    `json:"code"`
	StaffID    int64     `json:"staff_id,string"`
	CampaignID int64     `json:"campaign_id,string,omitempty"` // 0: a general code
	RevokedAt  time.Time `json:"-"`
	Invalid    string    `json:"-"` // why the code or token did not resolve ("" if it did)
}

// Protection is a customer's protection in one campaign: the protector
// keeps the customer until Until (inclusive).
type Protection struct {
	StaffID      int64     `json:"staff_id,string"`
	ConversionID int64     `json:"conversion_id,string"`
	Since        time.Time `json:"since"`
	Until        time.Time `json:"until"`
}

// Input is everything the engine decides from.
type Input struct {
	Conversion  Conversion
	PhoneHashes []string // the customer's phone hashes (self-referral)
	Campaign    Campaign
	Bindings    []Binding // in order of precedence (code, then token)
	Touches     []Touch
	Protection  *Protection     // the latest protection that began before the conversion, if any
	Staff       map[int64]Staff // every staff member named above, as of the conversion
}
