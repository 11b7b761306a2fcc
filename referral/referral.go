// Package referral gives every staff member personal invitation codes (one
// per campaign and one general code), turns share-link clicks into durable
// click records (group-committed), signs the referral token that the
// landing page carries on, records share events and answers per-staff
// statistics. It knows campaigns only through the small Campaigns
// interface that its caller supplies.
package referral

import (
	"context"
	"time"

	"rmref/internal/apperr"
)

// Sentinel errors. Unknown, revoked and malformed codes all look the same
// to the public (ErrCodeNotFound) so that nobody can probe which exist.
var (
	ErrBadCode      = apperr.NotFoundf("no such code")
	ErrCodeNotFound = apperr.NotFoundf("no such code")
	ErrCodeRevoked  = apperr.Conflictf("code_revoked", "the code is already revoked")
	ErrNoCampaign   = apperr.NotFoundf("no such campaign")
	ErrNotInScope   = apperr.NotFoundf("no such staff member")
	ErrBadToken     = apperr.Unauthorizedf("invalid referral token")
	ErrWriterClosed = apperr.New(apperr.Internal, "shutting_down", "click writer is closed")
)

// Channel tags a share link with where it was shared.
type Channel string

// The share channels.
const (
	ChannelWeChatFriend  Channel = "wechat_friend"
	ChannelWeChatMoments Channel = "wechat_moments"
	ChannelWeibo         Channel = "weibo"
	ChannelSMS           Channel = "sms"
	ChannelEmail         Channel = "email"
	ChannelQRPoster      Channel = "qr_poster"
	ChannelWeCom         Channel = "wecom"
	ChannelOther         Channel = "other"
)

// Channels lists the channels in a stable order; the index is the
// channel's number inside a referral token.
var Channels = []Channel{ChannelWeChatFriend, ChannelWeChatMoments, ChannelWeibo, ChannelSMS,
	ChannelEmail, ChannelQRPoster, ChannelWeCom, ChannelOther}

// ValidChannel reports whether s names a channel exactly.
func ValidChannel(s string) bool { return channelIndex(Channel(s)) >= 0 }

// ChannelOf maps a link's channel segment to a channel: an empty segment
// is a plain link (other), and an unknown one is recorded as other.
func ChannelOf(s string) Channel {
	if ValidChannel(s) {
		return Channel(s)
	}
	return ChannelOther
}

func channelIndex(c Channel) int {
	for i, x := range Channels {
		if x == c {
			return i
		}
	}
	return -1
}

// Code is one issued invitation code. CampaignID 0 is the staff member's
// general code.
type Code struct {
	ID         int64     `json:"-"`
	Code       string    `json:"code"`
	StaffID    int64     `json:"staff_id,string"`
	CampaignID int64     `json:"campaign_id,string"`
	CreatedAt  time.Time `json:"created_at"`
	RevokedAt  time.Time `json:"-"`
}

// General reports whether c is a general (bank-wide) code.
func (c Code) General() bool { return c.CampaignID == 0 }

// ActiveAt reports whether the code counts at t: it was not yet revoked.
func (c Code) ActiveAt(t time.Time) bool { return c.RevokedAt.IsZero() || t.Before(c.RevokedAt) }

// Campaign is what referral needs to know about a campaign.
type Campaign struct {
	ID         int64
	Name       string
	Status     string // draft, active, paused, ended (stored status)
	Start, End time.Time
	Location   *time.Location
	LandingURL string
}

// Campaign statuses, as the campaign package names them.
const (
	StatusDraft  = "draft"
	StatusActive = "active"
	StatusPaused = "paused"
	StatusEnded  = "ended"
)

// Campaigns is the campaign store as referral uses it; the HTTP tier adapts
// the campaign package to it.
type Campaigns interface {
	// Campaign returns one campaign; an unknown id wraps apperr.NotFound.
	Campaign(ctx context.Context, id int64) (Campaign, error)
	// Covers reports whether the unit at unitPath takes part in the campaign.
	Covers(ctx context.Context, campaignID int64, unitPath string) (bool, error)
}

// Owner is what a customer sees after typing a code: the staff member's
// masked name and unit.
type Owner struct {
	Code       string `json:"code"`
	NameMasked string `json:"name_masked"`
	UnitName   string `json:"unit_name"`
	Display    string `json:"display"`
}

// Not-counted reasons of a click.
const (
	ReasonRevoked        = "revoked"
	ReasonCampaignPaused = "campaign_paused"
	ReasonCampaignEnded  = "campaign_ended"
	ReasonOutsideDates   = "outside_dates"
	ReasonBot            = "bot"
	ReasonSelfClick      = "self_click"
	ReasonBurst          = "burst"
)
