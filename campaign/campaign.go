// Package campaign holds rmref's campaigns: time-boxed activities with a
// status machine (draft → active ⇄ paused → ended), participating org
// subtrees, the conversion types that count, the attribution settings the
// attribution engine reads, and a poster template. It owns their rules and
// SQL and imports neither gin nor net/http.
//
// Other domains read campaigns through Get, GetByCode, ListActiveAt and
// ForUnitPath (store.go) and judge them with StatusAt, Covers, Counts and
// IncludesUnitPath; the Service (service.go) is what the HTTP tier calls.
package campaign

import (
	"fmt"
	"regexp"
	"strings"
	"time"
	_ "time/tzdata" // campaign time zones load even where the host has no zoneinfo

	"rmref/internal/apperr"
)

// Status is a campaign's lifecycle state.
type Status string

// The statuses. Only draft → active, active ⇄ paused and active|paused →
// ended are allowed; active and paused campaigns end by themselves at EndAt.
const (
	StatusDraft  Status = "draft"
	StatusActive Status = "active"
	StatusPaused Status = "paused"
	StatusEnded  Status = "ended"
)

// Model is an attribution model.
type Model string

// The attribution models the attribution engine implements.
const (
	ModelLastTouch     Model = "last_touch"
	ModelFirstTouch    Model = "first_touch"
	ModelLinear        Model = "linear"
	ModelTimeDecay     Model = "time_decay"
	ModelPositionBased Model = "position_based"
)

// Models lists the valid attribution models.
var Models = []Model{ModelLastTouch, ModelFirstTouch, ModelLinear, ModelTimeDecay, ModelPositionBased}

// Defaults for new campaigns.
const (
	DefaultTimezone       = "Asia/Shanghai"
	DefaultLookbackDays   = 30
	DefaultModel          = ModelLastTouch
	DefaultHalfLifeDays   = 7
	DefaultProtectionDays = 0
	DefaultHoldingDays    = 30
)

// KnownConversionTypes are the conversion types upstream systems report
// today. Campaigns may also count other snake_case types, so that a new
// product line needs no release.
var KnownConversionTypes = []string{
	"account_opened", "card_applied", "card_approved", "card_activated",
	"wealth_purchase", "deposit_placed", "loan_applied", "loan_approved", "insurance_purchase",
}

// Errors returned by the campaign rules.
var (
	ErrNotFound          = apperr.NotFoundf("no such campaign")
	ErrInvalidTransition = apperr.Conflictf("invalid_transition", "this status change is not allowed")
	ErrCodeTaken         = apperr.Conflictf("campaign_code_taken", "a campaign with this code exists")
	ErrCampaignOver      = apperr.Conflictf("campaign_over", "the campaign's end time has passed")
)

// Unit is a participating org unit: the campaign covers its whole subtree.
type Unit struct {
	ID   int64  `json:"id,string"`
	Path string `json:"path"` // materialised path, e.g. "/1/4/"
	Name string `json:"name"`
}

// ConversionRule is a conversion type that counts for the campaign, with an
// optional minimum amount (0: any amount).
type ConversionRule struct {
	Type         string `json:"type"`
	MinAmountFen int64  `json:"min_amount_fen"`
}

// Attribution holds the settings the attribution engine applies to the
// campaign's conversions.
type Attribution struct {
	LookbackDays   int   `json:"lookback_days"`   // touches older than this are ignored
	Model          Model `json:"model"`           // how credit is split among touches
	HalfLifeDays   int   `json:"half_life_days"`  // time_decay half-life
	ProtectionDays int   `json:"protection_days"` // a bound customer stays with its staff member this long; 0 = off
}

// Campaign is a time-boxed activity. Status is the stored status; use
// StatusAt for the status at an instant (active and paused campaigns end
// by themselves at EndAt).
type Campaign struct {
	ID          int64            `json:"id,string"`
	Code        string           `json:"code"`
	Name        string           `json:"name"`
	Description string           `json:"description"`
	Status      Status           `json:"status"`
	StartAt     time.Time        `json:"start_at"`
	EndAt       time.Time        `json:"end_at"`
	Timezone    string           `json:"timezone"`
	LandingURL  string           `json:"landing_url"`
	Units       []Unit           `json:"units"`
	Conversions []ConversionRule `json:"conversion_types"`
	Attribution Attribution      `json:"attribution"`
	HoldingDays int              `json:"holding_days"` // staff incentives are held this long before payable
	FreezeAt    time.Time        `json:"-"`            // results freeze at this instant; zero = never
	EndedAt     time.Time        `json:"-"`            // when the campaign ended (zero while not ended)
	CreatedAt   time.Time        `json:"created_at"`
	UpdatedAt   time.Time        `json:"updated_at"`
}

// StatusAt returns the status at t: an active or paused campaign is ended
// once t reaches EndAt, and an ended campaign was active before EndedAt
// (pauses are not kept as history, so late-reported activity from before
// the end still finds the campaign live).
func (c Campaign) StatusAt(t time.Time) Status {
	switch c.Status {
	case StatusActive, StatusPaused:
		if !t.Before(c.EndAt) {
			return StatusEnded
		}
	case StatusEnded:
		if t.Before(c.EndedAt) {
			return StatusActive
		}
	}
	return c.Status
}

// CurrentStatus returns the status as it stands at now: like StatusAt, but
// an ended campaign stays ended (even on a clock set back), which is what
// transitions and edits go by.
func (c Campaign) CurrentStatus(now time.Time) Status {
	if c.Status == StatusEnded {
		return StatusEnded
	}
	return c.StatusAt(now)
}

// LiveAt reports whether the campaign counts activity at t: active at t (see
// StatusAt) and within its dates.
func (c Campaign) LiveAt(t time.Time) bool {
	return c.StatusAt(t) == StatusActive && c.Covers(t)
}

// Covers reports whether t lies within [StartAt, EndAt).
func (c Campaign) Covers(t time.Time) bool {
	return !t.Before(c.StartAt) && t.Before(c.EndAt)
}

// FrozenAt reports whether the campaign's results are frozen at t.
func (c Campaign) FrozenAt(t time.Time) bool {
	return !c.FreezeAt.IsZero() && !t.Before(c.FreezeAt)
}

// Reasons Counts gives for a conversion that does not count.
const (
	ReasonTypeNotCounted = "type_not_counted"
	ReasonBelowMinimum   = "below_minimum"
)

// Counts reports whether a conversion of convType with amountFen counts for
// the campaign, and if not, why (ReasonTypeNotCounted, ReasonBelowMinimum).
func (c Campaign) Counts(convType string, amountFen int64) (bool, string) {
	for _, r := range c.Conversions {
		if r.Type != convType {
			continue
		}
		if amountFen < r.MinAmountFen {
			return false, ReasonBelowMinimum
		}
		return true, ""
	}
	return false, ReasonTypeNotCounted
}

// IncludesUnitPath reports whether the unit at path lies in one of the
// participating subtrees.
func (c Campaign) IncludesUnitPath(path string) bool {
	for _, u := range c.Units {
		if u.Path != "" && strings.HasPrefix(path, u.Path) {
			return true
		}
	}
	return false
}

// UnitIDs returns the participating unit ids.
func (c Campaign) UnitIDs() []int64 {
	ids := make([]int64, len(c.Units))
	for i, u := range c.Units {
		ids[i] = u.ID
	}
	return ids
}

// Location returns the campaign's time zone (UTC if the stored name does
// not load, which validation prevents).
func (c Campaign) Location() *time.Location {
	loc, err := LoadLocation(c.Timezone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// CanTransition reports whether a stored status may move from → to by an
// explicit action.
func CanTransition(from, to Status) bool {
	switch from {
	case StatusDraft:
		return to == StatusActive
	case StatusActive:
		return to == StatusPaused || to == StatusEnded
	case StatusPaused:
		return to == StatusActive || to == StatusEnded
	}
	return false
}

var (
	codeRe     = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{1,63}$`)
	convTypeRe = regexp.MustCompile(`^[a-z][a-z0-9_]{1,47}$`)
)

// NormalizeCode returns the canonical (lower-case, trimmed) campaign code.
func NormalizeCode(code string) string { return strings.ToLower(strings.TrimSpace(code)) }

// ValidCode reports whether code (normalised) is a well-formed campaign code.
func ValidCode(code string) bool { return codeRe.MatchString(code) }

// ValidConversionType reports whether t is a well-formed conversion type.
func ValidConversionType(t string) bool { return convTypeRe.MatchString(t) }

// ValidModel reports whether m is a known attribution model.
func ValidModel(m Model) bool {
	for _, x := range Models {
		if x == m {
			return true
		}
	}
	return false
}

// LoadLocation loads an IANA time zone; "", "Local" and malformed names
// are refused.
func LoadLocation(name string) (*time.Location, error) {
	if name == "" || name == "Local" || strings.ContainsAny(name, " \\") || strings.Contains(name, "..") {
		return nil, fmt.Errorf("campaign: invalid time zone %q", name)
	}
	return time.LoadLocation(name)
}
