// Package leads turns online behaviour into follow-ups by remote and
// offline channels: behaviour events are evaluated against lead rules,
// leads are routed along an ordered route of channels under a contact
// policy (do-not-contact, consent, frequency caps, quiet hours), offered
// with working-hour SLAs, claimed by remote platforms under leases or
// worked by branch RMs, and returned to the next channel (回流) when an SLA
// is missed or a remote attempt cannot reach the customer.
package leads

import (
	"slices"
	"time"

	"rmref/internal/apperr"
)

// Channels a lead can be offered to.
const (
	ChannelCallCenter = "remote:call_center"
	ChannelSMS        = "remote:sms"
	ChannelWeCom      = "remote:wecom"
	ChannelBranch     = "offline:branch"
)

// AllChannels lists the channels.
var AllChannels = []string{ChannelCallCenter, ChannelSMS, ChannelWeCom, ChannelBranch}

// IsRemote reports whether channel is a remote channel (pull-based, quiet hours apply).
func IsRemote(channel string) bool {
	return channel != ChannelBranch && slices.Contains(AllChannels, channel)
}

// Statuses of a lead.
const (
	StatusNew           = "new"
	StatusOffered       = "offered"
	StatusAccepted      = "accepted"
	StatusContacted     = "contacted"
	StatusDeferred      = "deferred"
	StatusQueued        = "queued"
	StatusConverted     = "converted"
	StatusNotInterested = "not_interested"
	StatusUnreachable   = "unreachable"
	StatusInvalid       = "invalid"
	StatusSuppressed    = "suppressed"
)

// openStatuses are the statuses of a lead still being worked.
var openStatuses = []string{StatusNew, StatusOffered, StatusAccepted, StatusContacted, StatusDeferred, StatusQueued}

// IsOpen reports whether status is not closed.
func IsOpen(status string) bool { return slices.Contains(openStatuses, status) }

// Outcomes a contact attempt can end with.
var Outcomes = []string{StatusConverted, StatusNotInterested, StatusUnreachable, StatusInvalid}

// Reasons recorded on suppressions, deferrals, skips and returns.
const (
	ReasonDoNotContact = "do_not_contact"
	ReasonNoConsent    = "no_consent"
	ReasonNoChannel    = "no_consented_channel"
	ReasonWeekCap      = "week_cap"
	ReasonMonthCap     = "month_cap"
	ReasonQuietHours   = "quiet_hours"
	ReasonSLAMissed    = "sla_missed"
	ReasonUnreachable  = "unreachable"
	ReasonRouteEnd     = "route_end"
	ReasonReassigned   = "reassigned"
)

// SLA states computed from the clock.
const (
	SLAOnTime   = "on_time"
	SLAAtRisk   = "at_risk"
	SLABreached = "breached"
	SLAMet      = "met"
	SLAMissed   = "missed"
	SLANone     = "none"
)

// Errors.
var (
	ErrNotFound         = apperr.NotFoundf("no such lead")
	ErrRuleNotFound     = apperr.NotFoundf("no such lead rule")
	ErrRuleCodeTaken    = apperr.Conflictf("rule_code_taken", "a lead rule with this code exists")
	ErrInvalidState     = apperr.Conflictf("invalid_transition", "the lead's status does not allow this")
	ErrLeaseLost        = apperr.Conflictf("lease_lost", "the lead is not leased to this claimer")
	ErrNotRemote        = apperr.Conflictf("not_remote", "the lead is not on a remote channel")
	ErrNotBranch        = apperr.Conflictf("not_branch", "the lead is not on the branch channel")
	ErrFutureTime       = apperr.Conflictf("future_time", "time is more than 5 minutes ahead of the server clock")
	ErrAssigneeInactive = apperr.Conflictf("assignee_inactive", "the staff member has left or is not in scope")
	ErrEventReused      = apperr.Conflictf("idempotency_key_reused", "event id already used for another lead or payload")
)

// MaxFuture is how far ahead of the clock an event or report may be dated.
const MaxFuture = 5 * time.Minute

// Lead is a follow-up request for one customer and product.
type Lead struct {
	ID             int64      `json:"id,string"`
	CustomerID     string     `json:"customer_id"`
	Product        string     `json:"product"`
	RuleID         int64      `json:"rule_id,string"`
	RuleVersion    int        `json:"rule_version"`
	Priority       int        `json:"priority"`
	Status         string     `json:"status"`
	Route          []string   `json:"route"`
	RoutePos       int        `json:"route_pos"`
	Channel        string     `json:"channel"`
	UnitID         int64      `json:"unit_id,string,omitempty"`
	AssigneeID     int64      `json:"assignee_id,string,omitempty"`
	TriggerEventID string     `json:"trigger_event_id"`
	TriggeredAt    time.Time  `json:"triggered_at"`
	OfferedAt      *time.Time `json:"offered_at"`
	SLAHours       int        `json:"sla_hours"`
	SLAAtRiskAt    *time.Time `json:"sla_at_risk_at"`
	SLADeadline    *time.Time `json:"sla_deadline"`
	SLAState       string     `json:"sla_state"`
	AcceptedAt     *time.Time `json:"accepted_at"`
	FirstContactAt *time.Time `json:"first_contact_at"`
	DeferredUntil  *time.Time `json:"deferred_until"`
	ClosedAt       *time.Time `json:"closed_at"`
	Outcome        string     `json:"outcome,omitempty"`
	CloseReason    string     `json:"close_reason,omitempty"`
	CooldownUntil  *time.Time `json:"cooldown_until,omitempty"`
	LeaseUntil     *time.Time `json:"lease_until,omitempty"`
	Returns        int        `json:"returns"`
	Version        int        `json:"-"`
	LeaseHolder    string     `json:"-"`
	CooldownDays   int        `json:"-"`
}

// slaState is the SLA state of l at now.
func (l Lead) slaState(now time.Time) string {
	if l.SLADeadline == nil {
		return SLANone
	}
	if l.FirstContactAt != nil {
		if l.FirstContactAt.After(*l.SLADeadline) {
			return SLAMissed
		}
		return SLAMet
	}
	switch {
	case !now.Before(*l.SLADeadline):
		return SLABreached
	case l.SLAAtRiskAt != nil && !now.Before(*l.SLAAtRiskAt):
		return SLAAtRisk
	}
	return SLAOnTime
}

// Transition is one entry of a lead's history.
type Transition struct {
	At      time.Time `json:"at"`
	From    string    `json:"from"`
	To      string    `json:"to"`
	Channel string    `json:"channel"`
	Actor   string    `json:"actor"`
	Reason  string    `json:"reason,omitempty"`
}

// Contact is a recorded contact or outcome of a lead.
type Contact struct {
	ID         int64     `json:"id,string"`
	LeadID     int64     `json:"lead_id,string"`
	CustomerID string    `json:"customer_id"`
	Channel    string    `json:"channel"`
	Kind       string    `json:"kind"`
	Outcome    string    `json:"outcome,omitempty"`
	StaffID    int64     `json:"staff_id,string,omitempty"`
	UnitID     int64     `json:"unit_id,string,omitempty"`
	At         time.Time `json:"at"`
	Note       string    `json:"note,omitempty"`
}

func kindNotFound(err error) bool { return apperr.KindOf(err) == apperr.NotFound }
